package vpclink

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// runSite registers one us-east-1 site of instanceType, its subnets
// reporting zone (as a subnet made earlier, whose kept zone this run does
// not choose, would).
func runSite(t *testing.T, instanceType, zone string) (*mockaws.Monitor, error) {
	t.Helper()
	return runSiteWith(t, zone, func(a *SiteArgs) { a.InstanceType = instanceType })
}

// runSiteWith registers the site of runSite with its arguments edited.
func runSiteWith(t *testing.T, zone string, edit func(*SiteArgs)) (*mockaws.Monitor, error) {
	t.Helper()
	mon := &mockaws.Monitor{Hook: func(r *mockaws.Registration) error {
		if r.Type == "aws:ec2/subnet:Subnet" && zone != "" {
			r.Outputs["availabilityZone"] = resource.NewProperty(zone)
		}
		return nil
	}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		args := &SiteArgs{
			Region: "us-east-1", VpcCidr: "10.2.0.0/16", VpnSubnetCidr: "10.2.0.0/24", TerminalSubnetCidr: "10.2.1.0/24",
			VpnPrivateIP: "10.2.0.10", TerminalPrivateIP: "10.2.1.30",
			SSHPublicKey:    pulumi.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0 test"),
			SSHAllowedCIDRs: []string{"192.0.2.0/24"},
		}
		edit(args)
		_, err := NewSite(ctx, "v", args)
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

// The image choice picks Canonical's images of its release for the type's
// architecture, and is each instance's replacement trigger: the image is
// ignored in diffs, so without the trigger a changed choice would never
// reach a running instance. A pinned image is used as it is: no lookup, no
// trigger, the image not ignored (changing it replaces the instances).
func TestImageChoice(t *testing.T) {
	const pinned = "ami-0123456789abcdef0"
	cases := []struct {
		name, instanceType, os, ami string
		// lookup is the name filter of the one getAmi; trigger the
		// instances' replacement trigger ("" for none).
		lookup, trigger string
	}{
		{"default", "t3.micro", "", "", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", "ubuntu-24.04"},
		{"24.04 arm64", "t4g.micro", "ubuntu-24.04", "", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*", "ubuntu-24.04"},
		{"26.04 amd64", "t3.micro", "ubuntu-26.04", "", "ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-amd64-server-*", "ubuntu-26.04"},
		{"26.04 arm64", "t4g.micro", "ubuntu-26.04", "", "ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-arm64-server-*", "ubuntu-26.04"},
		{"pinned ami wins over os", "t3.micro", "ubuntu-26.04", pinned, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mon, err := runSiteWith(t, "", func(a *SiteArgs) { a.InstanceType, a.OS, a.Ami = tc.instanceType, tc.os, tc.ami })
			if err != nil {
				t.Fatal(err)
			}
			var lookups []string
			for _, c := range mon.Calls() {
				if c.Token != "aws:ec2/getAmi:getAmi" {
					continue
				}
				if o := c.Args["owners"]; !o.IsArray() || len(o.ArrayValue()) != 1 || o.ArrayValue()[0].StringValue() != UbuntuOwner {
					t.Errorf("getAmi owners %v, want [%s]", o, UbuntuOwner)
				}
				for _, f := range c.Args["filters"].ArrayValue() {
					if f.ObjectValue()["name"].StringValue() == "name" {
						lookups = append(lookups, f.ObjectValue()["values"].ArrayValue()[0].StringValue())
					}
				}
			}
			if want := []string{tc.lookup}; tc.lookup == "" && len(lookups) != 0 || tc.lookup != "" && strings.Join(lookups, " ") != tc.lookup {
				t.Errorf("image lookups %q, want %q", lookups, want)
			}
			instances := mon.ByType("aws:ec2/instance:Instance")
			if len(instances) != 2 {
				t.Fatalf("%d instances, want 2", len(instances))
			}
			for _, r := range instances {
				trigger := ""
				if !r.ReplacementTrigger.IsNull() {
					trigger = r.ReplacementTrigger.StringValue()
				}
				ignored := strings.Join(r.IgnoreChanges, ",")
				switch {
				case trigger != tc.trigger:
					t.Errorf("%s: replacement trigger %q, want %q", r.Name, trigger, tc.trigger)
				case tc.ami != "" && (r.Input("ami") != tc.ami || ignored != ""):
					t.Errorf("%s: ami %s, ignoreChanges %q; want %s, not ignored", r.Name, r.Input("ami"), ignored, tc.ami)
				case tc.ami == "" && ignored != "ami":
					t.Errorf("%s: ignoreChanges %q, want ami", r.Name, ignored)
				}
			}
		})
	}
	// An image choice the package has no images for is refused by name.
	_, err := runSiteWith(t, "", func(a *SiteArgs) { a.OS = "ubuntu-22.04" })
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input != "OS" || ie.Value != "ubuntu-22.04" || !strings.Contains(err.Error(), "ubuntu-24.04, ubuntu-26.04") {
		t.Errorf("unknown os: got %v, want an InputError naming OS and the choices", err)
	}
}

// Every image choice the configuration accepts has images here, and no other.
func TestEveryImageChoiceHasImages(t *testing.T) {
	for _, o := range topology.OSes {
		if _, ok := ubuntuImages[o]; !ok {
			t.Errorf("no images for %s", o)
		}
	}
	if len(ubuntuImages) != len(topology.OSes) {
		t.Errorf("images for %d choices, topology.OSes has %d", len(ubuntuImages), len(topology.OSes))
	}
	if _, ok := ubuntuImages[topology.DefaultOS]; !ok {
		t.Errorf("no images for the default %s", topology.DefaultOS)
	}
}
