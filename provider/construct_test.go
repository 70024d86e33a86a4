package main

import (
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// construct calls the provider's Construct as the engine does, with
// inputs as a YAML or TypeScript program sends them.
func construct(t *testing.T, inputs map[string]property.Value) error {
	t.Helper()
	prov, err := provider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), Name, semver.MustParse(Version), integration.WithProvider(prov),
		integration.WithMocks(&integration.MockResourceMonitor{
			NewResourceF: func(args integration.MockResourceArgs) (string, property.Map, error) {
				return args.ID, property.Map{}, nil
			},
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Construct(p.ConstructRequest{
		Urn:    resource.NewURN("dev", "consumer", "", tokens.Type("vpclink:index:Network"), "net"),
		Inputs: property.NewMap(inputs),
	})
	return err
}

func site(name, region, second string) property.Value {
	return property.New(property.NewMap(map[string]property.Value{
		"name": property.New(name), "region": property.New(region), "vpcCidr": property.New("10." + second + ".0.0/16"),
		"vpnSubnetCidr": property.New("10." + second + ".0.0/24"), "terminalSubnetCidr": property.New("10." + second + ".1.0/24"),
		"vpnPrivateIp": property.New("10." + second + ".0.10"), "terminalPrivateIp": property.New("10." + second + ".1.30"),
	}))
}

// A secret sshPrivateKey (TypeScript's SDK wraps it in pulumi.secret;
// YAML passes secret configuration as a secret) reaches the component's
// validation: here an invalid key, refused by name, before anything is
// registered. Invalid inputs are named by their input path.
func TestConstructSecretKeyAndErrors(t *testing.T) {
	sites := property.New([]property.Value{site("a", "eu-west-1", "0"), site("b", "sa-east-1", "1")})
	err := construct(t, map[string]property.Value{
		"sites":         sites,
		"sshPublicKey":  property.New("ssh-ed25519 AAAA operator"),
		"sshPrivateKey": property.New("not a key").WithSecret(true),
	})
	if err == nil || !strings.Contains(err.Error(), "input sshPrivateKey") || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("construct with an invalid secret key: %v (want it refused by input name, without its value)", err)
	}
	t.Logf("refused: %v", err)
	err = construct(t, map[string]property.Value{"sites": sites, "tunnelMtu": property.New(50.0)})
	if err == nil || !strings.Contains(err.Error(), "input tunnelMtu = 50") {
		t.Fatalf("construct with tunnelMtu 50: %v", err)
	}
}
