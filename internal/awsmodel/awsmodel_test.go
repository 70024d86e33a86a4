package awsmodel

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func props(kv ...any) resource.PropertyMap {
	m := resource.PropertyMap{}
	for i := 0; i < len(kv); i += 2 {
		m[resource.PropertyKey(kv[i].(string))] = resource.NewPropertyValue(kv[i+1])
	}
	return m
}

// What replaces and what updates in place, as the AWS provider decides.
func TestDiff(t *testing.T) {
	base := props("ami", "ami-1", "instanceType", "t3.micro", "privateIp", "10.0.0.10", "userData", "a",
		"rootBlockDevice", map[string]any{"encrypted": true, "volumeType": "gp3"})
	for _, tc := range []struct {
		name              string
		change            resource.PropertyMap
		changed, replaces []string
	}{
		{"same", props(), nil, nil},
		{"instance type: stop/start in place", props("instanceType", "t3.small"), []string{"instanceType"}, nil},
		{"instance type of another architecture: new instance", props("instanceType", "t4g.micro"), []string{"instanceType"}, []string{"instanceType"}},
		{"image: new instance", props("ami", "ami-2"), []string{"ami"}, []string{"ami"}},
		{"private IP: new instance", props("privateIp", "10.0.0.11"), []string{"privateIp"}, []string{"privateIp"}},
		{"user data: in place", props("userData", "b"), []string{"userData"}, nil},
		{"user data with replace-on-change", props("userData", "b", "userDataReplaceOnChange", true),
			[]string{"userData", "userDataReplaceOnChange"}, []string{"userData"}},
		{"volume type: in place", props("rootBlockDevice", map[string]any{"encrypted": true, "volumeType": "gp2"}), []string{"rootBlockDevice"}, nil},
		{"encryption: new volume", props("rootBlockDevice", map[string]any{"encrypted": false, "volumeType": "gp3"}), []string{"rootBlockDevice"}, []string{"rootBlockDevice"}},
		{"a secret wrapper alone changes nothing", props("userData", resource.MakeSecret(resource.NewProperty("a"))), nil, nil},
	} {
		news := base.Copy()
		for k, v := range tc.change {
			news[k] = v
		}
		changed, replaces := Diff(Instance, base, news)
		if !reflect.DeepEqual(changed, tc.changed) || !reflect.DeepEqual(replaces, tc.replaces) {
			t.Errorf("%s: changed %v replaces %v, want %v %v", tc.name, changed, replaces, tc.changed, tc.replaces)
		}
	}
	if _, r := Diff(Route, props("networkInterfaceId", "eni-1"), props("networkInterfaceId", "eni-2")); r != nil {
		t.Errorf("a route's new target replaces it: %v", r)
	}
	if _, r := Diff(Subnet, props("cidrBlock", "10.0.0.0/24"), props("cidrBlock", "10.0.1.0/24")); len(r) != 1 {
		t.Errorf("a subnet's new CIDR does not replace it: %v", r)
	}
}

func TestUnmodelled(t *testing.T) {
	if got := Unmodelled(Instance, props("ami", "x", "hibernation", true, "__defaults", []any{})); !reflect.DeepEqual(got, []string{"hibernation"}) {
		t.Errorf("unmodelled instance inputs: %v", got)
	}
	if got := Unmodelled("aws:s3/bucket:Bucket", props("bucket", "x")); len(got) != 1 {
		t.Errorf("an unknown type's inputs are not refused: %v", got)
	}
}

func TestOutputs(t *testing.T) {
	out := Outputs(Instance, "i-0123", "a-vpn", props("privateIp", "10.0.0.10"), "eu-west-1", "")
	if Text(out["primaryNetworkInterfaceId"]) != "eni-0123" || Text(out["privateIp"]) != "10.0.0.10" {
		t.Errorf("instance outputs: %v", out)
	}
	kp := Outputs(KeyPair, "key-abcdef0123", "a-ssh", props(), "eu-west-1", "")
	if Text(kp["keyName"]) != "a-ssh-abcdef0" {
		t.Errorf("auto-named key pair: %v", kp["keyName"])
	}
	if a := Architectures("t4g.micro"); !reflect.DeepEqual(a, []string{"arm64"}) {
		t.Errorf("t4g: %v", a)
	}
}
