// Command pulumi-resource-aws is the vpclink lab's emulated AWS provider
// plugin (see lab/plugins/aws). The lab installs it as a project plugin of
// the lab's own project; it refuses to run outside a lab.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/aws"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

func main() {
	p, err := aws.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skeleton.Serve("aws", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) { return p, nil })
}
