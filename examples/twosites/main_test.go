package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/sshkey"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
)

// The mocks' addresses are not real hosts: no SSH probe.
func init() { vpclink.SSHProbePatience = 0 }

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
	// staticKeyHex is what the static key's RandomPassword returns.
	staticKeyHex string
	// sshPrivateKey is the operator's key the program is given.
	sshPrivateKey string
}

// collectStrings appends every string inside v (secrets unwrapped).
func collectStrings(v resource.PropertyValue, out *[]string) {
	switch {
	case v.IsSecret():
		collectStrings(v.SecretValue().Element, out)
	case v.IsString():
		*out = append(*out, v.StringValue())
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			collectStrings(e, out)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			collectStrings(e, out)
		}
	}
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
	case "random:index/randomPassword:RandomPassword":
		// The static key, or another secret (host key seeds) of its length.
		n := int(args.Inputs["length"].NumberValue())
		if n == len(m.staticKeyHex) {
			outs["result"] = resource.NewStringProperty(m.staticKeyHex)
		} else {
			sum := sha256.Sum256([]byte(args.Name))
			outs["result"] = resource.NewStringProperty(strings.Repeat(hex.EncodeToString(sum[:]), n/64+1)[:n])
		}
	case "aws:ec2/keyPair:KeyPair":
		outs["keyName"] = resource.NewStringProperty(args.Name)
	case "command:remote:Command":
		outs["stdout"] = resource.NewStringProperty("ok " + args.Name)
		if strings.HasSuffix(args.Name, "-identity") {
			// A TLS identity step prints its certificate's fingerprint.
			sum := sha256.Sum256([]byte(args.Name))
			fp := strings.ToUpper(hex.EncodeToString(sum[:]))
			var parts []string
			for i := 0; i < len(fp); i += 2 {
				parts = append(parts, fp[i:i+2])
			}
			outs["stdout"] = resource.NewStringProperty(strings.Join(parts, ":"))
		}
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
	m := &mocks{staticKeyHex: testStaticKeyHex(), sshPrivateKey: pair.PrivateKeyOpenSSH}
	err = pulumi.RunErr(program,
		pulumi.WithMocks(project, "test", m),
		withConfig(map[string]string{
			project + ":sshPublicKey":  pair.AuthorizedKey,
			project + ":sshPrivateKey": pair.PrivateKeyOpenSSH,
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
		"vpclink:index:Site":                         2,
		"vpclink:index:Link":                         1,
		"pulumi:providers:aws":                       2,
		"aws:ec2/vpc:Vpc":                            2,
		"aws:ec2/routeTable:RouteTable":              2,
		"aws:ec2/instance:Instance":                  4,
		"aws:ec2/eip:Eip":                            4,
		"command:remote:Command":                     6, // TLS: identity, setup, check per end
		"random:index/randomPassword:RandomPassword": 5, // the static key, four host key seeds
		"aws:ec2/keyPair:KeyPair":                    2,
		"aws:ec2/subnet:Subnet":                      4,
		"aws:ec2/internetGateway:InternetGateway":    2,
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

	// The static key and the SSH private key stay off every command line:
	// no line of the key file (32 hex characters each), nor the whole hex,
	// nor a line of the private key's body in any command or connection.
	keyFile, err := openvpn.FormatStaticKey(m.staticKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	fragments := []string{m.staticKeyHex}
	for _, l := range strings.Split(keyFile, "\n") {
		if len(l) == 32 {
			fragments = append(fragments, l)
		}
	}
	for _, l := range strings.Split(m.sshPrivateKey, "\n") {
		if len(l) >= 32 && !strings.HasPrefix(l, "-----") {
			fragments = append(fragments, l)
		}
	}
	if len(fragments) < 1+16+1 {
		t.Fatalf("only %d key fragments to look for", len(fragments))
	}
	var commands int
	for _, r := range regs {
		if r.typ != "command:remote:Command" {
			continue
		}
		commands++
		for _, field := range []resource.PropertyKey{"create", "update", "delete", "connection"} {
			var texts []string
			collectStrings(r.inputs[field], &texts)
			for _, s := range texts {
				for _, f := range fragments {
					if strings.Contains(s, f) && !(field == "connection" && strings.Contains(m.sshPrivateKey, s)) {
						t.Errorf("%s.%s holds key material (not shown)", r.name, field)
					}
				}
			}
		}
		if strings.HasSuffix(r.name, "-setup") {
			stdin := r.inputs["stdin"]
			if !stdin.IsSecret() {
				t.Errorf("%s: stdin (the static key) is not secret", r.name)
			}
		}
	}
	if commands == 0 {
		t.Error("no commands to check")
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
