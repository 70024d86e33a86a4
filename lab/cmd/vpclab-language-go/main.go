// Command vpclab-language-go is the vpclink lab's own Go language host (see
// lab/plugins/langgo); the lab installs it as pulumi-language-go, the name
// the CLI looks for. The engine starts it with its own address as the last
// argument; it prints the port it serves on and serves until stopped.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/langgo"
)

func main() {
	host := &langgo.Host{ProgramCache: os.Getenv(langgo.EnvProgramCache)}
	// Flags the engine may pass (-tracing, -root, ...) are ignored; the
	// engine's address is the last argument.
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			host.Engine = a
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-go: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-go: %v\n", err)
		os.Exit(1)
	}
}
