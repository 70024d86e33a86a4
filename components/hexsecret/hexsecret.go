// Package hexsecret makes random secrets (key material) whose value never
// appears in plain text in the Pulumi state.
//
// random.RandomBytes cannot do this: the real provider stores the bytes, in
// base64, as the resource's id, which the state keeps in plain text in every
// checkpoint and backup. random.RandomPassword keeps its id constant ("none")
// and its result secret, so the secret is a password whose alphabet is
// exactly the 16 hex digits: the digits, plus "abcdef" as the "special"
// characters. Its result is then the lowercase hex of uniformly random bytes.
package hexsecret

import (
	"fmt"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the resource type that holds the secret.
const Type = "random:index/randomPassword:RandomPassword"

// Inputs are every input of RandomPassword (pulumi-random 4.21 schema):
// New ignores changes to all of them.
var Inputs = []string{"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "overrideSpecial", "special", "upper"}

// Args returns the RandomPassword arguments for n random bytes in hex.
func Args(n int) *random.RandomPasswordArgs {
	return &random.RandomPasswordArgs{
		Length:          pulumi.Int(2 * n),
		Lower:           pulumi.Bool(false),
		Upper:           pulumi.Bool(false),
		Numeric:         pulumi.Bool(true),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String("abcdef"),
		MinNumeric:      pulumi.Int(0),
		MinSpecial:      pulumi.Int(0),
	}
}

// New registers a secret of n random bytes and returns them as lowercase hex,
// marked secret. The value is stable across runs, like any random resource.
func New(ctx *pulumi.Context, name string, n int, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if n <= 0 {
		return pulumi.StringOutput{}, fmt.Errorf("hexsecret %q: %d bytes", name, n)
	}
	// A secret, once made, survives any change of these inputs: a new
	// default or schema in a random-provider release, or a change here,
	// would otherwise replace it, and a new host key seed replaces every
	// instance. Rotate on purpose with `pulumi up --replace <urn>`.
	opts = append(append([]pulumi.ResourceOption{}, opts...), pulumi.IgnoreChanges(Inputs))
	pw, err := random.NewRandomPassword(ctx, name, Args(n), opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
}
