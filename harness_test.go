package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/stackfile"
)

// The mocks' addresses are not real hosts: no SSH probe.
func init() { vpclink.SSHProbePatience = 0 }

// Type tokens the tests look for.
const (
	tProvider   = "pulumi:providers:aws"
	tVpc        = "aws:ec2/vpc:Vpc"
	tIgw        = "aws:ec2/internetGateway:InternetGateway"
	tRouteTable = "aws:ec2/routeTable:RouteTable"
	tRoute      = "aws:ec2/route:Route"
	tAssoc      = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	tSubnet     = "aws:ec2/subnet:Subnet"
	tSG         = "aws:ec2/securityGroup:SecurityGroup"
	tIngress    = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tEgress     = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	tInstance   = "aws:ec2/instance:Instance"
	tEip        = "aws:ec2/eip:Eip"
	tKeyPair    = "aws:ec2/keyPair:KeyPair"
	tCommand    = "command:remote:Command"
	tRandom     = "random:index/randomPassword:RandomPassword"
)

// result is one evaluation of the program under mocks.
type result struct {
	mon     *mockaws.Monitor
	err     error
	outputs map[string]exported
	// config is what configure returned (normalized).
	config topology.Config
}

type exported struct {
	value  any
	secret bool
}

// withConfig sets the stack configuration the way the engine does.
func withConfig(cfg map[string]string, secretKeys ...string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.ConfigSecretKeys = secretKeys
	}
}

// engineConfig hands cfg to the program as the language host does: in the
// run's options and, as the whole map, in PULUMI_CONFIG.
func engineConfig(t *testing.T, cfg map[string]string) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(b))
}

// evaluate runs the whole program on cfg and collects its stack outputs.
func evaluate(t *testing.T, cfg map[string]string, secretKeys ...string) *result {
	t.Helper()
	engineConfig(t, cfg)
	res := &result{mon: &mockaws.Monitor{}, outputs: map[string]exported{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	res.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, err := configure(ctx)
		if err != nil {
			return err
		}
		res.config = c
		network, err := vpclink.NewNetwork(ctx, "vpclink", &vpclink.NetworkArgs{Config: c, KeyPrefix: topology.ConfigNamespace + ":"})
		if err != nil {
			return err
		}
		res.config = network.Config
		for name, v := range network.Outputs {
			ctx.Export(name, v)
			o := pulumi.ToOutput(v)
			wg.Add(1)
			o.ApplyT(func(x any) any {
				defer wg.Done()
				mu.Lock()
				res.outputs[name] = exported{value: x}
				mu.Unlock()
				return x
			})
			wg.Add(1)
			go func() {
				defer wg.Done()
				secret := pulumi.IsSecret(o)
				mu.Lock()
				e := res.outputs[name+"/secret"]
				e.secret = secret
				res.outputs[name+"/secret"] = e
				mu.Unlock()
			}()
		}
		return nil
	}, pulumi.WithMocks("vpclink", "test", res.mon), withConfig(cfg, secretKeys...))
	if res.err == nil {
		wg.Wait()
		for k, v := range res.outputs {
			if name, ok := strings.CutSuffix(k, "/secret"); ok {
				o := res.outputs[name]
				o.secret = v.secret
				res.outputs[name] = o
				delete(res.outputs, k)
			}
		}
	}
	return res
}

func loadStack(t *testing.T, path string) map[string]string {
	t.Helper()
	cfg, err := stackfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustEvaluate(t *testing.T, cfg map[string]string, secretKeys ...string) *result {
	t.Helper()
	res := evaluate(t, cfg, secretKeys...)
	if res.err != nil {
		t.Fatalf("program failed: %v", res.err)
	}
	return res
}

// plain returns a scalar property as text, secrets unwrapped.
func plain(v resource.PropertyValue) string { return mockaws.Text(v) }

func in(r *mockaws.Registration, k string) string { return r.Input(k) }

func out(r *mockaws.Registration, k string) string { return plain(r.Outputs[resource.PropertyKey(k)]) }

// object returns a nested object input.
func object(r *mockaws.Registration, k string) resource.PropertyMap { return r.InputObject(k) }

// byID finds the registration with a physical id.
func byID(mon *mockaws.Monitor, id string) *mockaws.Registration {
	for _, r := range mon.Registrations() {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// region returns the region of the provider r uses, "" for the default.
func region(mon *mockaws.Monitor, r *mockaws.Registration) string {
	p := mon.ProviderOf(r)
	if p == nil {
		return ""
	}
	return in(p, "region")
}

// ruleString renders an ingress rule for set comparisons.
func ruleString(r *mockaws.Registration) string {
	return fmt.Sprintf("%s %s-%s from %s", in(r, "ipProtocol"), in(r, "fromPort"), in(r, "toPort"), in(r, "cidrIpv4"))
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// walkStrings calls fn for every string leaf of v with whether it sits inside
// a secret.
func walkStrings(v resource.PropertyValue, secret bool, fn func(s string, secret bool)) {
	switch {
	case v.IsSecret():
		walkStrings(v.SecretValue().Element, true, fn)
	case v.IsString():
		fn(v.StringValue(), secret)
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			walkStrings(e, secret, fn)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			walkStrings(e, secret, fn)
		}
	}
}

// walkAny does the same for exported Go values.
func walkAny(v any, fn func(s string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkAny(e, fn)
		}
	case []string:
		for _, e := range v {
			fn(e)
		}
	case map[string]any:
		for _, e := range v {
			walkAny(e, fn)
		}
	}
}
