package random

import (
	"crypto/rand"
	"fmt"
	"math"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
)

// The character classes of a password. SpecialChars is the list the schema
// documents for "special"; overrideSpecial replaces it when not empty.
const (
	UpperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	LowerChars   = "abcdefghijklmnopqrstuvwxyz"
	NumericChars = "0123456789"
	SpecialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// Params are a RandomPassword's inputs after defaults.
type Params struct {
	Length                                     int
	Upper, Lower, Numeric, Special             bool
	MinUpper, MinLower, MinNumeric, MinSpecial int
	OverrideSpecial                            string
}

// Specials are the special characters: overrideSpecial if set, else
// SpecialChars.
func (p Params) Specials() string {
	if p.OverrideSpecial != "" {
		return p.OverrideSpecial
	}
	return SpecialChars
}

// Alphabet is what the characters beyond the minimums are drawn from: the
// enabled classes, concatenated (a character listed twice, in two classes,
// is drawn twice as often, as in the real provider).
func (p Params) Alphabet() string {
	s := ""
	if p.Upper {
		s += UpperChars
	}
	if p.Lower {
		s += LowerChars
	}
	if p.Numeric {
		s += NumericChars
	}
	if p.Special {
		s += p.Specials()
	}
	return s
}

// Generate returns a password for p and its bcrypt hash. The min* counts
// are drawn from their class, then the rest from Alphabet, all with
// crypto/rand, and the whole is shuffled. As in the real provider, a
// minimum is honoured even for a class that is turned off (minUpper 2 with
// upper false still yields two capitals).
func Generate(p Params) (result, hash string, err error) {
	result, err = Password(p)
	if err != nil {
		return "", "", err
	}
	hash, err = Hash(result)
	return result, hash, err
}

// Password returns a random password for p.
func Password(p Params) (string, error) {
	mins := p.MinUpper + p.MinLower + p.MinNumeric + p.MinSpecial
	if p.Length < 1 || mins > p.Length || p.MinUpper < 0 || p.MinLower < 0 || p.MinNumeric < 0 || p.MinSpecial < 0 {
		return "", fmt.Errorf("random password: length %d with minimums %d", p.Length, mins)
	}
	alphabet := p.Alphabet()
	if alphabet == "" && mins < p.Length {
		return "", fmt.Errorf("random password: no character class is enabled")
	}
	out := make([]byte, 0, p.Length)
	for _, c := range []struct {
		chars string
		n     int
	}{{UpperChars, p.MinUpper}, {LowerChars, p.MinLower}, {NumericChars, p.MinNumeric}, {p.Specials(), p.MinSpecial}} {
		for range c.n {
			b, err := pick(c.chars)
			if err != nil {
				return "", err
			}
			out = append(out, b)
		}
	}
	for len(out) < p.Length {
		b, err := pick(alphabet)
		if err != nil {
			return "", err
		}
		out = append(out, b)
	}
	// Fisher-Yates, so the minimums are not all at the front.
	for i := len(out) - 1; i > 0; i-- {
		j, err := uniform(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// Hash is the bcrypt hash (default cost, as the real provider's "$2a$10$")
// of a password; as the schema says, of its first 72 bytes only when longer.
func Hash(password string) (string, error) {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}

// pick draws one character of chars uniformly.
func pick(chars string) (byte, error) {
	i, err := uniform(len(chars))
	if err != nil {
		return 0, err
	}
	return chars[i], nil
}

// uniform draws an integer in [0, n) from crypto/rand.
func uniform(n int) (int, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(i.Int64()), nil
}

// Booleans default to true, minimums to 0; "number" (deprecated) and
// "numeric" mirror each other, both true when neither is set.
var (
	boolDefaults = []resource.PropertyKey{"lower", "upper", "special"}
	minKeys      = []resource.PropertyKey{"minUpper", "minLower", "minNumeric", "minSpecial"}
)

// withDefaults returns a copy of inputs with the defaults the real
// provider puts in its outputs: every property the schema's outputs require
// is then present; keepers and overrideSpecial stay absent unless set.
func withDefaults(in resource.PropertyMap) resource.PropertyMap {
	out := in.Copy()
	for _, k := range boolDefaults {
		if _, ok := out[k]; !ok {
			out[k] = resource.NewProperty(true)
		}
	}
	for _, k := range minKeys {
		if _, ok := out[k]; !ok {
			out[k] = resource.NewProperty(0.0)
		}
	}
	number, hasNumber := out["number"]
	numeric, hasNumeric := out["numeric"]
	switch {
	case !hasNumber && !hasNumeric:
		out["number"], out["numeric"] = resource.NewProperty(true), resource.NewProperty(true)
	case !hasNumeric:
		out["numeric"] = number
	case !hasNumber:
		out["number"] = numeric
	}
	return out
}

// paramsOf reads Params from known, plain (secrets unwrapped) inputs with
// defaults.
func paramsOf(m resource.PropertyMap) Params {
	num := func(k resource.PropertyKey) int {
		if v := m[k]; v.IsNumber() {
			return int(v.NumberValue())
		}
		return 0
	}
	flag := func(k resource.PropertyKey) bool { v := m[k]; return v.IsBool() && v.BoolValue() }
	p := Params{
		Length: num("length"),
		Upper:  flag("upper"), Lower: flag("lower"), Numeric: flag("numeric"), Special: flag("special"),
		MinUpper: num("minUpper"), MinLower: num("minLower"), MinNumeric: num("minNumeric"), MinSpecial: num("minSpecial"),
	}
	if v := m["overrideSpecial"]; v.IsString() {
		p.OverrideSpecial = v.StringValue()
	}
	return p
}

// validate returns a check failure for each input the real provider would
// refuse (type, length >= 1 and >= the sum of the minimums, number and
// numeric agreeing, not every class turned off), and for what the stand-in
// does not emulate (a non-ASCII overrideSpecial, negative minimums). Values
// still unknown (preview) are not judged. m holds plain values.
func validate(m resource.PropertyMap) []*pulumirpc.CheckFailure {
	var failures []*pulumirpc.CheckFailure
	fail := func(k, format string, args ...any) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: k, Reason: fmt.Sprintf(format, args...)})
	}
	known := func(k resource.PropertyKey) (resource.PropertyValue, bool) {
		v, ok := m[k]
		return v, ok && !v.IsNull() && !v.ContainsUnknowns()
	}

	integer := func(k resource.PropertyKey) (int, bool) {
		v, ok := known(k)
		if !ok {
			return 0, false
		}
		if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) || math.Abs(v.NumberValue()) > math.MaxInt32 {
			fail(string(k), "%s must be an integer, got %s", k, show(v))
			return 0, false
		}
		return int(v.NumberValue()), true
	}

	length, lengthOK := integer("length")
	if v, ok := m["length"]; !ok || v.IsNull() {
		fail("length", "missing required property 'length'")
	} else if lengthOK && length < 1 {
		fail("length", "length must be at least 1, got %d", length)
		lengthOK = false
	}

	sum, sumOK := 0, true
	for _, k := range minKeys {
		n, ok := integer(k)
		switch {
		case ok && n < 0:
			fail(string(k), "vpclink lab: %s %d is not emulated (a minimum must be 0 or more)", k, n)
			sumOK = false
		case ok:
			sum += n
		default:
			if v, present := m[k]; present && !v.IsNull() {
				sumOK = false // unknown or not an integer
			}
		}
	}
	if lengthOK && sumOK && length < sum {
		fail("length", "length must be at least minUpper + minLower + minNumeric + minSpecial = %d, got %d", sum, length)
	}

	flags := map[resource.PropertyKey]bool{}
	for _, k := range []resource.PropertyKey{"lower", "upper", "numeric", "number", "special"} {
		v, ok := known(k)
		if !ok {
			continue
		}
		if !v.IsBool() {
			fail(string(k), "%s must be a boolean, got %s", k, show(v))
			continue
		}
		flags[k] = v.BoolValue()
	}
	number, hasNumber := flags["number"]
	numeric, hasNumeric := flags["numeric"]
	if hasNumber && hasNumeric && number != numeric {
		fail("numeric", "number (%t) and numeric (%t) are both configured with different values; number is deprecated, use numeric", number, numeric)
	}
	numericKey := resource.PropertyKey("numeric")
	if !hasNumeric {
		numericKey, numeric = "number", number
	}
	lower, hasLower := flags["lower"]
	upper, hasUpper := flags["upper"]
	special, hasSpecial := flags["special"]
	if (hasNumeric || hasNumber) && hasLower && hasUpper && hasSpecial && !numeric && !lower && !upper && !special {
		fail(string(numericKey), "at least one of %s, upper, lower and special must be true, all are false", numericKey)
	}

	if v, ok := known("overrideSpecial"); ok {
		if !v.IsString() {
			fail("overrideSpecial", "overrideSpecial must be a string, got %s", show(v))
		} else {
			for _, r := range v.StringValue() {
				if r > 127 {
					fail("overrideSpecial", "vpclink lab: overrideSpecial %q is not emulated (only ASCII characters are)", v.StringValue())
					break
				}
			}
		}
	}

	if v, ok := m["keepers"]; ok && !v.IsNull() && !v.IsComputed() {
		if !v.IsObject() {
			fail("keepers", "keepers must be a map of strings, got %s", show(v))
		} else {
			for k, e := range v.ObjectValue() {
				if !e.IsString() && !e.IsComputed() && !e.IsNull() {
					fail("keepers", "keepers.%s must be a string, got %s", k, show(e))
				}
			}
		}
	}
	return failures
}

// show renders a value for a failure's reason.
func show(v resource.PropertyValue) string {
	switch {
	case v.IsString():
		return fmt.Sprintf("%q", v.StringValue())
	case v.IsNumber():
		return fmt.Sprintf("%v", v.NumberValue())
	case v.IsBool():
		return fmt.Sprintf("%t", v.BoolValue())
	default:
		return string(v.TypeString())
	}
}
