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

// The zone functions answer for the region of the provider called.
func TestZoneFunctions(t *testing.T) {
	m := &Monitor{}
	pid, _, err := m.NewResource(pulumi.MockResourceArgs{TypeToken: "pulumi:providers:aws", Name: "east", Inputs: resource.PropertyMap{"region": resource.NewProperty("us-east-1")}, Custom: true})
	if err != nil {
		t.Fatal(err)
	}
	ref := "urn:pulumi:s::p::pulumi:providers:aws::east::" + pid
	zones, err := m.Call(pulumi.MockCallArgs{Token: awsmodel.GetAvailabilityZones, Args: resource.PropertyMap{}, Provider: ref})
	if err != nil || len(zones["names"].ArrayValue()) != 6 {
		t.Errorf("getAvailabilityZones: %v %v", zones, err)
	}
}
