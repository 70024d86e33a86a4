//go:build lab

package main

import (
	"os"

	"github.com/vpclink/pulumi-vpc-openvpn/lab"
)

// Built with -tags lab (scripts/lab), this binary is the local lab instead
// of a Pulumi program: it runs the same program function against AWS
// emulated with network namespaces.
func init() {
	os.Exit(lab.Main(os.Args[1:], program))
}
