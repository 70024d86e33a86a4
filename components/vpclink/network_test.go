package vpclink

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

func networkSites() []topology.Site {
	return []topology.Site{
		{Name: "a", Region: "eu-west-1", VpcCidr: "10.0.0.0/16", VpnSubnetCidr: "10.0.0.0/24", TerminalSubnetCidr: "10.0.1.0/24", VpnPrivateIP: "10.0.0.10", TerminalPrivateIP: "10.0.1.30"},
		{Name: "b", Region: "sa-east-1", VpcCidr: "10.1.0.0/16", VpnSubnetCidr: "10.1.0.0/24", TerminalSubnetCidr: "10.1.1.0/24", VpnPrivateIP: "10.1.0.20", TerminalPrivateIP: "10.1.1.40"},
	}
}

func runNetwork(t *testing.T, args *NetworkArgs) (*mockaws.Monitor, *Network, error) {
	t.Helper()
	mon := &mockaws.Monitor{}
	var n *Network
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		n, err = NewNetwork(ctx, "net", args)
		return err
	}, pulumi.WithMocks("vpclink", "test", mon))
	return mon, n, err
}

// Called as a component, the Network names its inputs' paths, not the
// program's configuration keys, and registers nothing when one is invalid.
func TestNetworkNamesInputPaths(t *testing.T) {
	sites := networkSites()
	sites[1].VpcCidr = "10.1.0.0/33"
	mon, _, err := runNetwork(t, &NetworkArgs{Config: topology.Config{Sites: sites, Hub: "c"}})
	if err == nil {
		t.Fatal("accepted an invalid network")
	}
	for _, want := range []string{`input sites[1].vpcCidr = "10.1.0.0/33": is not a CIDR`, `input hub = "c": is not the name of a site in sites`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nwants %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "vpclink:") {
		t.Errorf("a component's error names the program's keys: %v", err)
	}
	var fe *topology.FieldError
	if !errors.As(err, &fe) || fe.Key != "sites[1].vpcCidr" {
		t.Errorf("errors.As: %v", fe)
	}
	if n := len(mon.Registrations()); n != 0 {
		t.Errorf("%d resources registered before the refusal", n)
	}
	// From the program, the keys are the configuration's.
	_, _, err = runNetwork(t, &NetworkArgs{Config: topology.Config{Sites: sites}, KeyPrefix: "vpclink:"})
	if err == nil || !strings.Contains(err.Error(), `config vpclink:sites[1].vpcCidr = "10.1.0.0/33"`) {
		t.Errorf("from the program: %v", err)
	}
}

// A valid network builds both sites and their link under the component,
// and exports what the program exports.
func TestNetworkBuilds(t *testing.T) {
	mon, n, err := runNetwork(t, &NetworkArgs{Config: topology.Config{Sites: networkSites()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sites) != 2 || len(n.Links) != 1 || n.Links[0].Name != "a-b" {
		t.Fatalf("sites %d, links %v", len(n.Sites), n.Links)
	}
	for _, k := range []string{"sites", "links", "tunnelCheck", "sshPublicKey", "sshPrivateKey"} {
		if _, ok := n.Outputs[k]; !ok {
			t.Errorf("no output %s", k)
		}
	}
	for _, r := range mon.Registrations() {
		if r.Parent == "" && r.Type != NetworkType {
			t.Errorf("%s %s is not inside the Network", r.Type, r.Name)
		}
	}
}
