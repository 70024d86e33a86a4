package vpclink

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// runSite registers one us-east-1 site of instanceType, its subnets
// reporting zone (as a subnet made earlier, whose kept zone this run does
// not choose, would).
func runSite(t *testing.T, instanceType, zone string) (*mockaws.Monitor, error) {
	t.Helper()
	mon := &mockaws.Monitor{Hook: func(r *mockaws.Registration) error {
		if r.Type == "aws:ec2/subnet:Subnet" && zone != "" {
			r.Outputs["availabilityZone"] = resource.NewProperty(zone)
		}
		return nil
	}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewSite(ctx, "v", &SiteArgs{
			Region: "us-east-1", VpcCidr: "10.2.0.0/16", VpnSubnetCidr: "10.2.0.0/24", TerminalSubnetCidr: "10.2.1.0/24",
			VpnPrivateIP: "10.2.0.10", TerminalPrivateIP: "10.2.1.30", InstanceType: instanceType,
			SSHPublicKey:    pulumi.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0 test"),
			SSHAllowedCIDRs: []string{"192.0.2.0/24"},
		})
		return err
	}, pulumi.WithMocks("vpclink", "test", mon))
	return mon, err
}

// A subnet kept in a zone that lacks a newly chosen type stops the
// instances before they are registered (in a preview: before anything
// is touched), naming the zone and the zones that offer the type.
func TestKeptZoneWithoutTheTypeStopsTheInstances(t *testing.T) {
	if _, err := runSite(t, "t3.micro", ""); err != nil {
		t.Fatalf("a new site: %v", err)
	}
	if _, err := runSite(t, "m5.large", "us-east-1e"); err != nil {
		t.Fatalf("m5.large is offered in us-east-1e: %v", err)
	}
	mon, err := runSite(t, "t3.micro", "us-east-1e")
	want := "instance type t3.micro is not offered in us-east-1e, the zone of subnet"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f") {
		t.Fatalf("got %v, want an error with %q and the offering zones", err, want)
	}
	if n := len(mon.ByType("aws:ec2/instance:Instance")); n != 0 {
		t.Errorf("%d instances registered", n)
	}
}
