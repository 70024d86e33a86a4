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
	pw, err := random.NewRandomPassword(ctx, name, Args(n), opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
}
