// Command vpclab is the local lab: it runs the project's Pulumi program with
// the real Pulumi CLI against AWS emulated with network namespaces on this
// machine (see lab/driver). scripts/lab builds and runs it.
package main

import (
	"os"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/driver"
)

func main() { os.Exit(driver.Main(os.Args[1:])) }
