// Command vpclink is a Pulumi program that joins the private networks of
// Amazon VPCs in different regions with OpenVPN site-to-site tunnels.
//
// The story: read the configuration, hand it to the Network component
// (components/vpclink), which validates it, warns about AWS default quotas
// it exceeds, builds each site (VPC, subnets, route table, instances) in its
// own region and links the sites (static key, cross routes, OpenVPN over
// SSH, ping checks); export what an operator needs to reach and verify
// everything. Other stacks use the same component.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
)

func main() {
	pulumi.Run(program)
}

// program is the whole deployment; the unit tests and the local lab run it
// exactly as `pulumi up` does.
func program(ctx *pulumi.Context) error {
	cfg, err := configure(ctx)
	if err != nil {
		return err
	}
	network, err := vpclink.NewNetwork(ctx, "vpclink", &vpclink.NetworkArgs{
		Config:    cfg,
		KeyPrefix: topology.ConfigNamespace + ":",
	})
	if err != nil {
		return err
	}
	for name, value := range network.Outputs {
		ctx.Export(name, value)
	}
	return nil
}

// configure reads the stack configuration. Nothing else reads
// configuration; NewNetwork applies the defaults and validates it, naming
// the configuration keys, before anything is registered.
func configure(ctx *pulumi.Context) (topology.Config, error) {
	values := map[string]string{}
	secret := map[string]bool{}
	for _, k := range configKeys(ctx) {
		if v, ok := ctx.GetConfig(k); ok {
			values[k] = v
			secret[k] = ctx.IsConfigSecret(k)
		}
	}
	c, err := topology.Decode(values, secret)
	if err != nil {
		return c, fmt.Errorf("invalid configuration; no resource was created, changed or deleted:\n%w", err)
	}
	return c, nil
}

// configKeys returns every configuration key of the program's namespace, so
// that a misspelt one (vpclink:tunnelMTU) is refused rather than ignored.
//
// pulumi.Context answers only for keys it is asked about. The whole map is
// what the language host hands the program in PULUMI_CONFIG (pulumi.EnvConfig,
// the variable pulumi.Run reads it from); it is used only when it agrees with
// the context on every key, i.e. when it is this run's configuration (a run
// given its configuration through RunOptions, as under mocks, may not have
// it). Otherwise only the known keys are read.
func configKeys(ctx *pulumi.Context) []string {
	var keys []string
	for _, k := range topology.Keys {
		keys = append(keys, topology.ConfigNamespace+":"+k)
	}
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return keys
	}
	for _, k := range keys {
		v, ok := ctx.GetConfig(k)
		if w, inEnv := all[k]; ok != inEnv || v != w {
			return keys
		}
	}
	var extra []string
	for k, w := range all {
		if v, ok := ctx.GetConfig(k); !ok || v != w {
			return keys
		}
		if strings.HasPrefix(k, topology.ConfigNamespace+":") && !slices.Contains(keys, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(keys, extra...)
}
