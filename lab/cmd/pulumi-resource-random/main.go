// Command pulumi-resource-random is the vpclink lab's stand-in for the
// pulumi-random provider plugin (see lab/plugins/random): it implements
// RandomPassword, the one random resource the program uses. The lab installs
// it as a project plugin of the lab's own project. Unlike the AWS stand-in it
// needs no lab environment: it keeps no state and reaches nothing.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/random"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

func main() {
	skeleton.Serve("random", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) { return random.New(), nil })
}
