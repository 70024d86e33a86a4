package mockaws

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		v    resource.PropertyValue
		want string
	}{
		{resource.NewProperty("x"), "x"},
		{resource.MakeSecret(resource.NewProperty("s")), "s"},
		{resource.NewProperty(1194.0), "1194"},
		{resource.NewProperty(-1.0), "-1"},
		{resource.NewProperty(false), "false"},
		{resource.NewProperty([]resource.PropertyValue{}), ""},
	} {
		if got := Text(tc.v); got != tc.want {
			t.Errorf("Text(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestPublicIPsStableAndDistinct(t *testing.T) {
	a, b := &Monitor{}, &Monitor{}
	names := []string{"a-vpn-eip", "a-terminal-eip", "b-vpn-eip", "b-terminal-eip"}
	seen := map[string]bool{}
	for _, n := range names {
		ip := a.publicIP(n)
		if seen[ip] {
			t.Errorf("%s got %s twice", n, ip)
		}
		seen[ip] = true
	}
	// Another order gives every name the same address (no collisions here).
	for i := len(names) - 1; i >= 0; i-- {
		if b.publicIP(names[i]) != a.publicIP(names[i]) {
			t.Errorf("%s: address depends on registration order", names[i])
		}
	}
}

func TestArchitectures(t *testing.T) {
	for typ, want := range map[string]string{"t3.micro": "x86_64", "t4g.small": "arm64", "c7g.large": "arm64", "m5.large": "x86_64"} {
		archs := awsmodel.Architectures(typ)
		if archs[len(archs)-1] != want {
			t.Errorf("%s: %v", typ, archs)
		}
	}
}

// The instance functions read what the mock registered, per provider region.
func TestInstanceFunctions(t *testing.T) {
	m := &Monitor{}
	reg := func(token, name string, provider string, in resource.PropertyMap) string {
		id, _, err := m.NewResource(pulumi.MockResourceArgs{TypeToken: token, Name: name, Inputs: in, Provider: provider, Custom: true})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	pid := reg("pulumi:providers:aws", "east", "", resource.PropertyMap{"region": resource.NewProperty("us-east-1")})
	ref := "urn:pulumi:s::p::pulumi:providers:aws::east::" + pid
	subnet := reg(awsmodel.Subnet, "s", ref, resource.PropertyMap{"cidrBlock": resource.NewProperty("10.0.1.0/24")})
	inst := reg(awsmodel.Instance, "vpn", ref, resource.PropertyMap{
		"subnetId": resource.NewProperty(subnet), "privateIp": resource.NewProperty("10.0.1.7"), "instanceType": resource.NewProperty("m5.large")})
	reg(awsmodel.EIP, "vpn-eip", ref, resource.PropertyMap{"instance": resource.NewProperty(inst)})
	reg(awsmodel.Instance, "elsewhere", "", resource.PropertyMap{"privateIp": resource.NewProperty("10.0.1.7")})

	filters := resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
		"name": resource.NewProperty("private-ip-address"), "values": resource.NewProperty([]resource.PropertyValue{resource.NewProperty("10.0.1.7")})})})
	out, err := m.Call(pulumi.MockCallArgs{Token: awsmodel.GetInstances, Args: resource.PropertyMap{"filters": filters}, Provider: ref})
	if err != nil {
		t.Fatal(err)
	}
	if ids := out["ids"].ArrayValue(); len(ids) != 1 || ids[0].StringValue() != inst || len(out["publicIps"].ArrayValue()) != 1 || Text(out["id"]) != "us-east-1" {
		t.Errorf("getInstances: %v", out)
	}
	one, err := m.Call(pulumi.MockCallArgs{Token: awsmodel.GetInstance, Args: resource.PropertyMap{"instanceId": resource.NewProperty(inst)}, Provider: ref})
	if err != nil || Text(one["availabilityZone"]) != "us-east-1e" || Text(one["instanceType"]) != "m5.large" {
		t.Errorf("getInstance: %v %v", one, err)
	}
	if _, err := m.Call(pulumi.MockCallArgs{Token: awsmodel.GetInstance, Args: resource.PropertyMap{"instanceId": resource.NewProperty("i-0")}, Provider: ref}); err == nil {
		t.Error("an unknown instance was found")
	}
	zones, err := m.Call(pulumi.MockCallArgs{Token: awsmodel.GetAvailabilityZones, Args: resource.PropertyMap{}, Provider: ref})
	if err != nil || len(zones["names"].ArrayValue()) != 6 {
		t.Errorf("getAvailabilityZones: %v %v", zones, err)
	}
}
