// Command vpclab-endpoints serves one lab's emulated AWS endpoints: IMDSv2
// at 169.254.169.254 in every VPC and the EC2 Query API at
// https://ec2.<region>.amazonaws.com on the emulated internet (see
// lab/world/endpoints.go). The lab starts it in its "api" namespace
// (world.StartEndpoints) and stops it by PID (world.Down).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

func main() {
	prefix := flag.String("prefix", "", "the lab's prefix")
	dir := flag.String("dir", "", "the lab's state directory")
	flag.Parse()
	w, err := world.New(*prefix, *dir)
	if err != nil || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: vpclab-endpoints -prefix PREFIX -dir STATE_DIR", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.ServeEndpoints(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vpclab-endpoints:", err)
		os.Exit(1)
	}
}
