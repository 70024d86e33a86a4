// Command pulumi-resource-aws is the vpclink lab's emulated AWS provider
// plugin (see lab/awsplugin). `scripts/lab` builds it and puts it first on
// the PATH of the `pulumi` it runs; it refuses to run outside a lab.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/awsplugin"
)

func main() {
	p, err := awsplugin.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := provider.Main("aws", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return p, nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
