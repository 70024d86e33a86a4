package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

// Keys are the configuration keys of the namespace, without the namespace,
// in the order of the schema (schema.go), which defines them.
var Keys = names(schema)

// Fields of one element of vpclink:sites and of vpclink:links, in the order
// of the schema.
var (
	SiteFields = names(siteSchema)
	LinkFields = names(linkSchema)
)

// Decode reads the stack configuration as the Pulumi engine hands it to a
// program: full keys ("vpclink:tunnelPort") mapped to their text, lists and
// objects as JSON. Keys of other namespaces are ignored; secret names the keys
// whose values are secrets (never repeated in a message).
//
// It checks what only the written form shows: unknown keys and fields (with
// the nearest valid one suggested), JSON types at their exact path
// (vpclink:sites[1].vpcCidr), and that the private key is stored as a secret.
// It remembers which optional values were written, so that Normalize never
// replaces an explicit value (0, "") by a default: Validate refuses it.
// Every error is a *FieldError naming a key of the namespace.
func Decode(values map[string]string, secret map[string]bool) (Config, error) {
	d := &decoder{secret: secret, given: map[string]bool{}}
	var c Config
	own := map[string]string{}
	for k, v := range values {
		if rest, ok := strings.CutPrefix(k, ConfigNamespace+":"); ok {
			own[rest] = v
		}
	}
	for _, k := range unknownKeys(own) {
		d.unknownKey(k, own[k])
	}

	if raw, ok := own["sites"]; !ok {
		d.errs = append(d.errs, &FieldError{Key: key("sites"), Unset: true, Problem: "is required: a list of sites, each {name, region, vpcCidr, ...} (see Pulumi.dev.yaml)"})
	} else if list, ok := d.list("sites", raw); ok {
		c.Sites = make([]Site, len(list))
		for i, e := range list {
			c.Sites[i] = d.site(fmt.Sprintf("sites[%d]", i), e)
		}
	}
	if raw, ok := own["links"]; ok {
		if list, ok := d.list("links", raw); ok {
			c.Links = make([]Link, len(list))
			for i, e := range list {
				c.Links[i] = d.link(fmt.Sprintf("links[%d]", i), e)
			}
		}
	}
	d.text(own, "instanceType", &c.InstanceType)
	d.text(own, "os", &c.OS)
	d.text(own, "sshUser", &c.SSHUser)
	if raw, ok := own["sshAllowedCidrs"]; ok {
		if list, ok := d.list("sshAllowedCidrs", raw); ok {
			c.SSHAllowedCIDRs = make([]string, len(list))
			for i, e := range list {
				d.str(fmt.Sprintf("sshAllowedCidrs[%d]", i), e, &c.SSHAllowedCIDRs[i], "an IPv4 network such as 203.0.113.7/32")
			}
		}
	}
	d.text(own, "sshPublicKey", &c.SSHPublicKey)
	c.SSHPublicKey = strings.TrimSpace(c.SSHPublicKey)
	d.text(own, "sshPrivateKey", &c.SSHPrivateKey)
	if c.SSHPrivateKey != "" && !secret[key("sshPrivateKey")] {
		d.errs = append(d.errs, &FieldError{Key: key("sshPrivateKey"), Value: "[secret]",
			Problem: "is stored in plain text (value not shown); set it with `pulumi config set --secret sshPrivateKey < key`"})
	}
	d.integer(own, "tunnelPort", &c.TunnelPort, "a UDP port, 1-65535")
	d.integer(own, "tunnelMtu", &c.TunnelMTU, fmt.Sprintf("an MTU, %d-%d", openvpn.MinMTU, openvpn.MaxMTU))
	d.text(own, "tunnelMode", &c.TunnelMode)
	// Empty is their Pulumi.yaml default: no hub, no summary.
	if own["hub"] != "" {
		d.text(own, "hub", &c.Hub)
	}
	if own["summaryCidr"] != "" {
		d.text(own, "summaryCidr", &c.SummaryCidr)
	}
	d.boolean(own, "postDeployCheck", &c.PostDeployCheck)
	d.boolean(own, "highAvailability", &c.HighAvailability)
	d.integer(own, "failbackHoldDownSeconds", &c.FailbackHoldDownSeconds, fmt.Sprintf("seconds, %d-%d", MinFailbackHoldDownSeconds, MaxFailbackHoldDownSeconds))
	c.given = d.given
	if len(d.errs) > 0 {
		return c, errors.Join(d.errs...)
	}
	return c, nil
}

// unknownKeys returns the keys of own that Decode does not know, sorted.
func unknownKeys(own map[string]string) []string {
	var out []string
	for k := range own {
		if !contains(Keys, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

type decoder struct {
	errs   []error
	secret map[string]bool
	given  map[string]bool
}

// shown is how a value appears in a message: never a secret's.
func (d *decoder) shown(path, value string) string {
	root := path
	if i := strings.IndexAny(root, "[."); i >= 0 {
		root = root[:i]
	}
	if d.secret[key("%s", root)] {
		return "[secret]"
	}
	return value
}

// fail records an error for the key at path (relative to the namespace).
// literal says the value is JSON text (a number, list...), shown unquoted.
func (d *decoder) fail(path, value string, literal bool, format string, args ...any) {
	v := d.shown(path, value)
	d.errs = append(d.errs, &FieldError{Key: key("%s", path), Value: v, Literal: literal && v == value, Problem: fmt.Sprintf(format, args...)})
}

func (d *decoder) unknownKey(k, value string) {
	if root, _, nested := strings.Cut(k, "["); plainName(k) && (nested && contains(Keys, root) || strings.Contains(k, ".") && contains(Keys, k[:strings.Index(k, ".")])) {
		d.errs = append(d.errs, &FieldError{Key: key("%s", k), Value: d.shown(k, value),
			Problem: fmt.Sprintf("is a key named literally %q; set a value inside a list or object with `pulumi config set --path '%s' ...`", k, key("%s", k))})
		return
	}
	d.errs = append(d.errs, &FieldError{Key: key("%s", quoteOdd(k)), Value: d.shown(k, value), Problem: "is not a configuration key of this program" + suggest(k, Keys, key(""))})
}

// plainName reports whether a key or field name can be shown as it is.
func plainName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.[]", r)) {
			return false
		}
	}
	return s != ""
}

// quoteOdd quotes a name that holds spaces, quotes or control characters,
// so that a message stays one line and the name stays recognisable.
func quoteOdd(s string) string {
	if plainName(s) {
		return s
	}
	return strconv.Quote(s)
}

// suggest returns "; did you mean <prefix><nearest>?" or the list of valid
// names when none is near.
func suggest(name string, valid []string, prefix string) string {
	best, dist := "", 1<<30
	for _, v := range valid {
		if n := editDistance(strings.ToLower(name), strings.ToLower(v)); n < dist {
			best, dist = v, n
		}
	}
	if best != "" && (dist <= 2 || dist <= len(name)/3) {
		return fmt.Sprintf("; did you mean %s%s?", prefix, best)
	}
	if len(valid) == 0 || len(valid) > 16 {
		return ""
	}
	return "; valid: " + strings.Join(valid, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parse reads raw as exactly one JSON value; numbers stay json.Number.
// Anything after the value (203.0.113.7/32 reads as 203.0 then ".113...")
// makes it not JSON: such a value was written as a plain string.
func parse(raw string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if rest := strings.TrimSpace(raw[dec.InputOffset():]); rest != "" {
		return nil, fmt.Errorf("text after the value: %q", rest)
	}
	return v, nil
}

// literal says whether raw, as the program receives it, was written as a
// number, boolean, list or object (shown as written, unquoted) rather than
// as a string (shown quoted).
func literal(raw string) bool {
	v, err := parse(raw)
	if err != nil {
		return false
	}
	_, isString := v.(string)
	return !isString
}

// structured returns the kind of raw when it is a list or an object.
func structured(raw string) (string, bool) {
	v, err := parse(raw)
	if err != nil {
		return "", false
	}
	switch v.(type) {
	case []any, map[string]any:
		return kind(v), true
	}
	return "", false
}

// list reads the top-level key k as a JSON list.
func (d *decoder) list(k, raw string) ([]any, bool) {
	v, err := parse(raw)
	if err != nil {
		if t := strings.TrimSpace(raw); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			d.fail(k, raw, false, "is not a JSON list (%v); write it as a YAML list in the stack file or set elements with `pulumi config set --path`", err)
		} else {
			d.fail(k, raw, false, "must be a list, not a string; write it as a YAML list in the stack file (%s: [%s]) or set elements with `pulumi config set --path '%s[0]' ...`", key("%s", k), raw, key("%s", k))
		}
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		d.fail(k, raw, literal(raw), "must be a list, not %s", kind(v))
		return nil, false
	}
	return list, true
}

// written renders a decoded JSON value the way it was written (compactly).
func written(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null (no value)"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// object reads a list element that must be an object; it refuses unknown
// fields with the nearest valid one.
func (d *decoder) object(path string, v any, fields []string, what string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, written(v), true, "must be an object {%s}, not %s", what, kind(v))
		return nil, false
	}
	var names []string
	for f := range m {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if !contains(fields, f) {
			d.fail(path+"."+quoteOdd(f), written(m[f]), true, "is not a field of %s%s", strings.TrimRight(path, "0123456789[]"), suggest(f, fields, key("%s.", path)))
		}
	}
	return m, true
}

func (d *decoder) str(path string, v any, dst *string, want string) {
	s, ok := v.(string)
	if !ok {
		d.fail(path, written(v), true, "must be a string (%s), not %s", want, kind(v))
		return
	}
	*dst = s
}

// field decodes m[name] into a string; present records explicit values.
func (d *decoder) field(path string, m map[string]any, name string, dst *string, want string) {
	if v, ok := m[name]; ok {
		d.given[path+"."+name] = true
		d.str(path+"."+name, v, dst, want)
	}
}

func (d *decoder) site(path string, v any) Site {
	var s Site
	m, ok := d.object(path, v, SiteFields, "name, region, vpcCidr, ...")
	if !ok {
		return s
	}
	d.field(path, m, "name", &s.Name, "a site name such as ireland")
	d.field(path, m, "region", &s.Region, "an AWS region such as eu-west-1")
	d.field(path, m, "vpcCidr", &s.VpcCidr, "an IPv4 CIDR such as 10.0.0.0/16")
	d.field(path, m, "vpnSubnetCidr", &s.VpnSubnetCidr, "an IPv4 CIDR such as 10.0.0.0/24")
	d.field(path, m, "terminalSubnetCidr", &s.TerminalSubnetCidr, "an IPv4 CIDR such as 10.0.1.0/24")
	d.field(path, m, "vpnPrivateIp", &s.VpnPrivateIP, "an IPv4 address such as 10.0.0.10")
	d.field(path, m, "terminalPrivateIp", &s.TerminalPrivateIP, "an IPv4 address such as 10.0.1.30")
	d.field(path, m, "availabilityZone", &s.AvailabilityZone, "a zone such as eu-west-1a")
	d.field(path, m, "instanceType", &s.InstanceType, "an EC2 instance type such as t3.micro")
	d.field(path, m, "ami", &s.Ami, "an AMI id such as ami-0123456789abcdef0")
	d.field(path, m, "os", &s.OS, "an image choice: "+strings.Join(OSes, " or "))
	d.field(path, m, "secondaryVpnSubnetCidr", &s.SecondaryVpnSubnetCidr, "an IPv4 CIDR such as 10.0.2.0/24")
	d.field(path, m, "secondaryVpnPrivateIp", &s.SecondaryVpnPrivateIP, "an IPv4 address such as 10.0.2.10")
	d.field(path, m, "secondaryAvailabilityZone", &s.SecondaryAvailabilityZone, "a zone such as eu-west-1b")
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"terminal", &s.Terminal}, {"highAvailability", &s.HighAvailability}} {
		name, dst := f.name, f.dst
		if v, ok := m[name]; ok {
			if b, ok := v.(bool); ok {
				*dst = &b
			} else {
				d.fail(path+"."+name, written(v), true, "must be true or false, not %s", kind(v))
			}
		}
	}
	return s
}

func (d *decoder) link(path string, v any) Link {
	var l Link
	m, ok := d.object(path, v, LinkFields, shape(linkSchema))
	if !ok {
		return l
	}
	d.field(path, m, "name", &l.Name, "a link name such as a-b")
	d.field(path, m, "mode", &l.Mode, "a tunnel mode, tls or static")
	strs := func(name, want string) []string {
		v, ok := m[name]
		if !ok {
			return nil
		}
		d.given[path+"."+name] = true
		list, ok := v.([]any)
		if !ok {
			d.fail(path+"."+name, written(v), true, "must be a list of %s, not %s", want, kind(v))
			return nil
		}
		out := make([]string, len(list))
		for i, e := range list {
			d.str(fmt.Sprintf("%s.%s[%d]", path, name, i), e, &out[i], want)
		}
		return out
	}
	l.Sites = strs("sites", "two site names")
	l.TunnelAddresses = strs("tunnelAddresses", "two IPv4 addresses")
	l.SecondaryTunnelAddresses = strs("secondaryTunnelAddresses", "two IPv4 addresses")
	for _, f := range []struct {
		name string
		dst  *int
	}{{"port", &l.Port}, {"secondaryPort", &l.SecondaryPort}} {
		name, dst := f.name, f.dst
		if v, ok := m[name]; ok {
			d.given[path+"."+name] = true
			n, isNum := v.(json.Number)
			p, err := strconv.Atoi(string(n))
			if !isNum || err != nil {
				d.fail(path+"."+name, written(v), true, "must be a whole number (a UDP port, 1-65535), not %s", describeNumber(v))
			} else {
				*dst = p
			}
		}
	}
	return l
}

// boolean reads a top-level boolean key.
func (d *decoder) boolean(own map[string]string, k string, dst **bool) {
	raw, ok := own[k]
	if !ok {
		return
	}
	switch raw {
	case "true", "false":
		d.given[k] = true
		b := raw == "true"
		*dst = &b
	default:
		d.fail(k, raw, literal(raw), "must be true or false")
	}
}

func describeNumber(v any) string {
	if n, ok := v.(json.Number); ok {
		if _, err := strconv.ParseFloat(string(n), 64); err == nil && strings.ContainsAny(string(n), ".eE") {
			return "a fraction or exponent"
		}
		return "a number out of range"
	}
	return kind(v)
}

// text reads a top-level string key.
func (d *decoder) text(own map[string]string, k string, dst *string) {
	if v, ok := own[k]; ok {
		d.given[k] = true
		if what, ok := structured(v); ok {
			d.fail(k, v, true, "must be a string, not %s", what)
			return
		}
		*dst = v
	}
}

// integer reads a top-level integer key, written in decimal.
func (d *decoder) integer(own map[string]string, k string, dst *int, want string) {
	raw, ok := own[k]
	if !ok {
		return
	}
	d.given[k] = true
	n, err := strconv.Atoi(raw)
	if err != nil || strings.HasPrefix(raw, "+") {
		if what, ok := structured(raw); ok {
			d.fail(k, raw, true, "must be a whole number (%s), not %s", want, what)
		} else {
			d.fail(k, raw, literal(raw), "is not a whole number (want %s)", want)
		}
		return
	}
	*dst = n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
