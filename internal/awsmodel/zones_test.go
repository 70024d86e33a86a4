package awsmodel

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestZones(t *testing.T) {
	if z := Zones("us-east-1"); len(z) != 6 || z[4] != "us-east-1e" {
		t.Errorf("us-east-1: %v", z)
	}
	if z := Zones("eu-west-1"); !reflect.DeepEqual(z, []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}) {
		t.Errorf("eu-west-1: %v", z)
	}
	if DefaultZone("us-east-1") != "us-east-1e" || DefaultZone("eu-west-1") != "eu-west-1a" {
		t.Error("default zones")
	}
	for zone, want := range map[string]string{"us-east-1a": "use1-az1", "eu-west-1c": "euw1-az3", "ap-northeast-1b": "apne1-az2", "ap-southeast-2a": "apse2-az1", "eu-central-1a": "euc1-az1"} {
		if got := ZoneID(zone); got != want {
			t.Errorf("ZoneID(%s) = %s, want %s", zone, got, want)
		}
	}
	if got := OfferingZones("us-east-1", "t3.micro"); !reflect.DeepEqual(got, []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"}) {
		t.Errorf("t3.micro in us-east-1: %v", got)
	}
	if !Offers("us-east-1e", "m5.large") || Offers("us-east-1e", "t4g.small") || !Offers("eu-west-1a", "t3.micro") {
		t.Error("offerings")
	}
	want := "Unsupported: Your requested instance type (t3.micro) is not supported in your requested Availability Zone (us-east-1e). Please retry your request by not specifying an Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f.\n"
	if got := UnsupportedInZone("us-east-1e", "t3.micro").Error(); !strings.HasPrefix(got, want) {
		t.Errorf("text: %q", got)
	}
}

// The emulated images say their architecture; other ids do not.
func TestImageArchitecture(t *testing.T) {
	x86 := Text(AmiResult("eu-west-1", resource.PropertyMap{"filters": resource.NewProperty("ubuntu amd64 x86_64")})["id"])
	arm := Text(AmiResult("eu-west-1", resource.PropertyMap{"filters": resource.NewProperty("ubuntu arm64")})["id"])
	if a, ok := ImageArchitecture(x86); !ok || a != "x86_64" {
		t.Errorf("%s: %s %v", x86, a, ok)
	}
	if a, ok := ImageArchitecture(arm); !ok || a != "arm64" {
		t.Errorf("%s: %s %v", arm, a, ok)
	}
	if _, ok := ImageArchitecture("ami-0123456789abcdef0"); ok {
		t.Error("a pinned image has a known architecture")
	}
	if ArchitectureMismatch("t3.micro", x86) != nil || ArchitectureMismatch("t4g.micro", "ami-0123456789abcdef0") != nil {
		t.Error("a matching or unknown image refused")
	}
	want := "InvalidParameterValue: The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.\n"
	if err := ArchitectureMismatch("t4g.micro", x86); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("t4g with an x86 image: %v", err)
	}
	if err := ArchitectureMismatch("t3.micro", arm); err == nil || !strings.Contains(err.Error(), "'x86_64' of the specified instance type does not match the architecture 'arm64'") {
		t.Errorf("t3 with an arm image: %v", err)
	}
}
