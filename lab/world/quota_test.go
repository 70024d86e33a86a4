package world

import (
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The default quotas, per region or per object.
func TestQuotas(t *testing.T) {
	w, _ := testWorld(t)
	for i := 0; i < VPCsPerRegion; i++ {
		w.mustCreate(t, "eu-west-1", awsmodel.VPC, "v", in("cidrBlock", fmt.Sprintf("10.%d.0.0/16", i)))
	}
	_, _, err := w.Create("eu-west-1", awsmodel.VPC, "sixth", in("cidrBlock", "10.9.0.0/16"))
	wantAPIError(t, err, "VpcLimitExceeded", "The maximum number of VPCs has been reached.")
	// Per region: another region has its own five.
	s := newSite(t, w, "us-west-2", "10.0.0.0/16", "10.0.1.0/24")

	for i := 0; i < AddressesPerRegion; i++ {
		w.mustCreate(t, s.region, awsmodel.EIP, "e", in("domain", "vpc"))
	}
	_, _, err = w.Create(s.region, awsmodel.EIP, "sixth", in("domain", "vpc"))
	wantAPIError(t, err, "AddressLimitExceeded", "The maximum number of addresses has been reached.")

	inst, _ := w.mustCreate(t, s.region, awsmodel.Instance, "vpn", s.instanceInputs("10.0.1.7"))
	eni := "eni-" + inst[2:]
	route := func(i int) (string, resource.PropertyMap, error) {
		return w.Create(s.region, awsmodel.Route, "r", in("routeTableId", s.table,
			"destinationCidrBlock", fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256), "networkInterfaceId", eni))
	}
	for i := 0; i < RoutesPerTable; i++ {
		if _, _, err := route(i); err != nil {
			t.Fatalf("route %d: %v", i, err)
		}
	}
	_, _, err = route(RoutesPerTable)
	wantAPIError(t, err, "RouteLimitExceeded", "limit on the number of routes")

	rule := func(token string, i int) error {
		_, _, err := w.Create(s.region, token, "r", in("securityGroupId", s.group, "ipProtocol", "udp",
			"cidrIpv4", fmt.Sprintf("192.0.2.%d/32", i), "fromPort", 1194, "toPort", 1194))
		return err
	}
	for i := 0; i < RulesPerGroupPerWay; i++ {
		if err := rule(awsmodel.IngressRule, i); err != nil {
			t.Fatal(err)
		}
	}
	wantAPIError(t, rule(awsmodel.IngressRule, 200), "RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	// Egress rules have their own sixty.
	if err := rule(awsmodel.EgressRule, 0); err != nil {
		t.Errorf("egress after sixty ingress: %v", err)
	}
}

func TestSubnetZones(t *testing.T) {
	w, _ := testWorld(t)
	vpc, _ := w.mustCreate(t, "eu-west-1", awsmodel.VPC, "v", in("cidrBlock", "10.0.0.0/16"))
	_, _, err := w.Create("eu-west-1", awsmodel.Subnet, "s", in("vpcId", vpc, "cidrBlock", "10.0.1.0/24", "availabilityZone", "eu-west-1d"))
	wantAPIError(t, err, "InvalidParameterValue",
		"Value (eu-west-1d) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: eu-west-1a, eu-west-1b, eu-west-1c.")
	_, _, err = w.Create("eu-west-1", awsmodel.Subnet, "s", in("vpcId", vpc, "cidrBlock", "10.0.1.0/24", "availabilityZone", "us-east-1a"))
	wantAPIError(t, err, "InvalidParameterValue", "Value (us-east-1a) for parameter availabilityZone is invalid.")
	id, out := w.mustCreate(t, "eu-west-1", awsmodel.Subnet, "s", in("vpcId", vpc, "cidrBlock", "10.0.1.0/24"))
	if z := load(t, w).Subnets[id].Zone; z != "eu-west-1a" || awsmodel.Text(out["availabilityZone"]) != z {
		t.Errorf("default zone %q, output %v", z, out["availabilityZone"])
	}
}

// RunInstances: a type the subnet's zone does not offer, an image of
// another architecture.
func TestInstanceZoneAndArchitecture(t *testing.T) {
	w, _ := testWorld(t)
	// No zone given: us-east-1 picks us-east-1e, which has no t3 types.
	s := newSite(t, w, "us-east-1", "10.0.0.0/16", "10.0.1.0/24")
	if z := load(t, w).Subnets[s.subnet].Zone; z != "us-east-1e" {
		t.Fatalf("default zone %s", z)
	}
	_, _, err := w.Create(s.region, awsmodel.Instance, "vpn", s.instanceInputs("10.0.1.7"))
	wantAPIError(t, err, "Unsupported", "Your requested instance type (t3.micro) is not supported in your requested Availability Zone (us-east-1e). Please retry your request by not specifying an Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f.")
	if n := len(load(t, w).Instances); n != 0 {
		t.Errorf("a refused instance was kept: %d", n)
	}
	w.mustCreate(t, s.region, awsmodel.Instance, "vpn", s.instanceInputs("10.0.1.7", "instanceType", "m5.large"))

	b := newSite(t, w, "us-east-1", "10.1.0.0/16", "10.1.1.0/24", "availabilityZone", "us-east-1a")
	x86 := awsmodel.Text(awsmodel.AmiResult(b.region, in("filters", "x86_64"))["id"])
	arm := awsmodel.Text(awsmodel.AmiResult(b.region, in("filters", "arm64"))["id"])
	_, _, err = w.Create(b.region, awsmodel.Instance, "vpn", b.instanceInputs("10.1.1.7", "instanceType", "t4g.micro", "ami", x86))
	wantAPIError(t, err, "InvalidParameterValue", "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI.")
	id, _ := w.mustCreate(t, b.region, awsmodel.Instance, "vpn", b.instanceInputs("10.1.1.7", "instanceType", "t4g.micro", "ami", arm, "tags", map[string]any{"Name": "vpn"}))
	if i := load(t, w).Instances[id]; i.AMI != arm || i.Tags["Name"] != "vpn" {
		t.Errorf("instance record: %+v", i)
	}
}
