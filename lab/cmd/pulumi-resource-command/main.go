// Command pulumi-resource-command is the vpclink lab's stand-in for the
// pulumi-command provider plugin (see lab/plugins/command): it runs
// command:remote:Command over real SSH and refuses everything else the
// program does not use. The lab installs it as a project plugin.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/command"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

func main() {
	skeleton.Serve("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		var logger command.Logger
		if host != nil {
			logger = host
		}
		return command.New(logger), nil
	})
}
