package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/sshkey"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

const project = "vpclink-example-twosites"

// registration is one resource the program registered.
type registration struct {
	typ, name, provider string
	custom              bool
	inputs              resource.PropertyMap
}

// mocks answers the engine's calls with plausible AWS values and records
// every registration. Registrations arrive concurrently.
type mocks struct {
	mu    sync.Mutex
	regs  []registration
	calls []string
	eips  int
	// staticKeyHex is what the static key's RandomBytes returns.
	staticKeyHex string
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regs = append(m.regs, registration{typ: args.TypeToken, name: args.Name, provider: args.Provider, custom: args.Custom, inputs: args.Inputs})
	outs := args.Inputs.Copy()
	switch args.TypeToken {
	case "aws:ec2/eip:Eip":
		m.eips++
		outs["publicIp"] = resource.NewStringProperty(fmt.Sprintf("203.0.113.%d", m.eips))
	case "aws:ec2/instance:Instance":
		outs["primaryNetworkInterfaceId"] = resource.NewStringProperty("eni-" + args.Name)
		if _, ok := outs["privateIp"]; !ok {
			outs["privateIp"] = resource.NewStringProperty("10.99.0.10")
		}
	case "random:index/randomBytes:RandomBytes":
		outs["hex"] = resource.NewStringProperty(m.staticKeyHex)
	case "aws:ec2/keyPair:KeyPair":
		outs["keyName"] = resource.NewStringProperty(args.Name)
	case "command:remote:Command":
		outs["stdout"] = resource.NewStringProperty("ok " + args.Name)
		outs["stderr"] = resource.NewStringProperty("")
	}
	return args.Name + "_id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args.Token)
	m.mu.Unlock()
	switch args.Token {
	case "aws:ec2/getInstanceType:getInstanceType":
		return resource.PropertyMap{
			"instanceType":           args.Args["instanceType"],
			"supportedArchitectures": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("x86_64")}),
		}, nil
	case "aws:ec2/getAmi:getAmi":
		return resource.PropertyMap{
			"id":           resource.NewStringProperty("ami-0123456789abcdef0"),
			"architecture": resource.NewStringProperty("x86_64"),
		}, nil
	}
	return args.Args, nil
}

func (m *mocks) registrations() []registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]registration(nil), m.regs...)
}

// withConfig sets the stack configuration the way the engine does.
func withConfig(cfg map[string]string, secretKeys ...string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.ConfigSecretKeys = secretKeys
	}
}

func testStaticKeyHex() string {
	var b strings.Builder
	for i := 0; i < 256; i++ {
		fmt.Fprintf(&b, "%02x", (i*7+3)%256)
	}
	return b.String()
}

// evaluate runs the example's program under mocks with an operator key pair
// derived from a fixed test seed.
func evaluate(t *testing.T) (*mocks, error) {
	t.Helper()
	pair, err := sshkey.FromSeed(strings.Repeat("42", sshkey.SeedBytes))
	if err != nil {
		t.Fatal(err)
	}
	m := &mocks{staticKeyHex: testStaticKeyHex()}
	err = pulumi.RunErr(program,
		pulumi.WithMocks(project, "test", m),
		withConfig(map[string]string{
			project + ":sshPublicKey":  pair.AuthorizedKey,
			project + ":sshPrivateKey": pair.PrivateKeyPEM,
		}, project+":sshPrivateKey"))
	return m, err
}

func TestProgram(t *testing.T) {
	m, err := evaluate(t)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	regs := m.registrations()

	count := map[string]int{}
	for _, r := range regs {
		count[r.typ]++
	}
	for typ, want := range map[string]int{
		"vpclink:index:Site":                      2,
		"vpclink:index:Link":                      1,
		"pulumi:providers:aws":                    2,
		"aws:ec2/vpc:Vpc":                         2,
		"aws:ec2/routeTable:RouteTable":           2,
		"aws:ec2/instance:Instance":               4,
		"aws:ec2/eip:Eip":                         4,
		"command:remote:Command":                  4,
		"random:index/randomBytes:RandomBytes":    1,
		"aws:ec2/keyPair:KeyPair":                 2,
		"aws:ec2/subnet:Subnet":                   4,
		"aws:ec2/internetGateway:InternetGateway": 2,
	} {
		if count[typ] != want {
			t.Errorf("%d %s registered, want %d", count[typ], typ, want)
		}
	}

	for _, r := range regs {
		if strings.HasPrefix(r.typ, "aws:") && r.provider == "" {
			t.Errorf("%s %s uses the default provider", r.typ, r.name)
		}
	}

	// Each site's resources go to a provider of its own region.
	regions := map[string]string{}
	for _, r := range regs {
		if r.typ == "pulumi:providers:aws" {
			regions[r.name] = r.inputs["region"].StringValue()
		}
	}
	if regions["east"] != "us-east-1" || regions["central"] != "eu-central-1" {
		t.Errorf("provider regions = %v", regions)
	}
	for _, r := range regs {
		if r.typ != "aws:ec2/vpc:Vpc" {
			continue
		}
		want := map[string]string{"east-vpc": "10.10.0.0/16", "central-vpc": "10.20.0.0/16"}[r.name]
		if got := r.inputs["cidrBlock"].StringValue(); got != want {
			t.Errorf("%s cidrBlock = %q, want %q", r.name, got, want)
		}
		site := strings.TrimSuffix(r.name, "-vpc")
		if !strings.Contains(r.provider, "::"+site+"::") {
			t.Errorf("%s uses provider %q, not the %s site's", r.name, r.provider, site)
		}
	}

	// The static key and the SSH private key stay off every command line.
	key := m.staticKeyHex
	for _, r := range regs {
		if r.typ != "command:remote:Command" {
			continue
		}
		for _, field := range []resource.PropertyKey{"create", "update", "delete"} {
			v := r.inputs[field]
			for v.IsSecret() {
				v = v.SecretValue().Element
			}
			if !v.IsString() {
				continue
			}
			s := v.StringValue()
			if strings.Contains(s, key[:64]) || strings.Contains(s, "PRIVATE KEY") {
				t.Errorf("%s.%s holds key material (not shown)", r.name, field)
			}
		}
		if strings.HasSuffix(r.name, "-setup") {
			stdin := r.inputs["stdin"]
			if !stdin.IsSecret() {
				t.Errorf("%s: stdin (the static key) is not secret", r.name)
			}
		}
	}

	for _, want := range []string{"aws:ec2/getInstanceType:getInstanceType", "aws:ec2/getAmi:getAmi"} {
		found := false
		m.mu.Lock()
		for _, c := range m.calls {
			found = found || c == want
		}
		m.mu.Unlock()
		if !found {
			t.Errorf("no %s call", want)
		}
	}
}

// TestInvalidTopologyRegistersNothing breaks the example's addresses and
// checks that the program fails before any resource exists.
func TestInvalidTopologyRegistersNothing(t *testing.T) {
	saved := sites
	defer func() { sites = saved }()
	sites = append([]topology.Site(nil), saved...)
	sites[1].VpcCidr = "10.10.0.0/16" // same network as east
	sites[1].VpnPrivateIP = "10.20.0.1"

	m, err := evaluate(t)
	if err == nil {
		t.Fatal("program accepted overlapping VPCs")
	}
	for _, want := range []string{"vpclink:sites[1].vpcCidr", `"10.10.0.0/16"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Error("error carries the private key (not shown)")
	}
	for _, r := range m.registrations() {
		if r.typ != "pulumi:pulumi:Stack" {
			t.Errorf("%s %s registered despite the invalid topology", r.typ, r.name)
		}
	}
}
