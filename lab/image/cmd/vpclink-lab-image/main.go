// Command vpclink-lab-image builds (or reuses) the lab images and prints where they are.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/image"
)

func main() {
	dir := flag.String("cache", "", "cache directory (default $VPCLINK_LAB_CACHE or "+image.DefaultCacheDir+")")
	flavours := flag.String("flavours", "", "comma-separated flavours (default all)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := image.Options{CacheDir: *dir, Log: os.Stderr}
	if *flavours != "" {
		opts.Flavours = strings.Split(*flavours, ",")
	}
	set, err := image.Build(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range image.Flavours {
		if fl, err := set.Flavour(f); err == nil {
			fmt.Printf("%s\tlower=%s\topenvpn=%s\trepo=%s\n", f, strings.Join(fl.Lower, ":"), fl.OpenVPN, fl.Repo)
		}
	}
}
