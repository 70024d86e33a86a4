package awsmodel

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func filter(name string, values ...any) map[string]any {
	return map[string]any{"name": name, "values": values}
}

func TestInstanceTypeOfferings(t *testing.T) {
	out, err := InstanceTypeOfferingsResult("us-east-1", props("locationType", "availability-zone", "filters", []any{filter("instance-type", "t3.micro")}))
	if err != nil {
		t.Fatal(err)
	}
	if got := stringsOf(out["locations"]); !reflect.DeepEqual(got, []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"}) {
		t.Errorf("locations %v", got)
	}
	if len(stringsOf(out["instanceTypes"])) != 5 || len(stringsOf(out["locationTypes"])) != 5 || Text(out["id"]) != "us-east-1" {
		t.Errorf("result %v", out)
	}
	for _, bad := range []resource.PropertyMap{
		props("locationType", "region", "filters", []any{filter("instance-type", "t3.micro")}),
		props("locationType", "availability-zone", "filters", []any{filter("location", "us-east-1a")}),
	} {
		if _, err := InstanceTypeOfferingsResult("us-east-1", bad); err == nil || !strings.Contains(err.Error(), "not emulated") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestAvailabilityZones(t *testing.T) {
	out, err := AvailabilityZonesResult("eu-west-1", props("state", "available"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stringsOf(out["zoneIds"]), []string{"euw1-az1", "euw1-az2", "euw1-az3"}) || len(stringsOf(out["names"])) != 3 || Text(out["id"]) != "eu-west-1" {
		t.Errorf("result %v", out)
	}
	if _, err := AvailabilityZonesResult("eu-west-1", props("excludeNames", []any{"eu-west-1a"})); err == nil || !strings.Contains(err.Error(), `"excludeNames"`) {
		t.Errorf("excludeNames: %v", err)
	}
}

func TestInstances(t *testing.T) {
	all := []InstanceInfo{
		{ID: "i-2", SubnetID: "subnet-a", PrivateIP: "10.0.1.7", PublicIP: "203.0.113.10", State: "running", Zone: "eu-west-1a", InstanceType: "t3.micro", AMI: "ami-1", Tags: map[string]string{"Name": "vpn"}},
		{ID: "i-1", SubnetID: "subnet-a", PrivateIP: "10.0.1.8", State: "stopped"},
		{ID: "i-3", SubnetID: "subnet-b", PrivateIP: "10.0.2.7", State: "running"},
	}
	get := func(args resource.PropertyMap) resource.PropertyMap {
		out, err := InstancesResult("eu-west-1", args, all)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := get(props("filters", []any{filter("subnet-id", "subnet-a")}))
	if !reflect.DeepEqual(stringsOf(out["ids"]), []string{"i-2"}) || !reflect.DeepEqual(stringsOf(out["publicIps"]), []string{"203.0.113.10"}) {
		t.Errorf("running in subnet-a: %v", out)
	}
	out = get(props("filters", []any{filter("subnet-id", "subnet-a"), filter("instance-state-name", "running", "stopped")}))
	if !reflect.DeepEqual(stringsOf(out["ids"]), []string{"i-1", "i-2"}) || !reflect.DeepEqual(stringsOf(out["privateIps"]), []string{"10.0.1.8", "10.0.1.7"}) {
		t.Errorf("any state in subnet-a: %v", out)
	}
	out = get(props("filters", []any{filter("private-ip-address", "10.9.9.9")}))
	if ids := out["ids"]; !ids.IsArray() || len(ids.ArrayValue()) != 0 {
		t.Errorf("no match: %v", out)
	}
	if _, err := InstancesResult("eu-west-1", props("filters", []any{filter("tag:Name", "x")}), all); err == nil || !strings.Contains(err.Error(), `filter "tag:Name"`) {
		t.Errorf("tag filter: %v", err)
	}
	if _, err := InstancesResult("eu-west-1", props("instanceTags", map[string]any{"a": "b"}), all); err == nil {
		t.Error("instanceTags accepted")
	}

	one, err := InstanceResult("eu-west-1", props("instanceId", "i-2"), all)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"id": "i-2", "instanceId": "i-2", "ami": "ami-1", "instanceType": "t3.micro", "subnetId": "subnet-a", "privateIp": "10.0.1.7", "availabilityZone": "eu-west-1a"} {
		if got := Text(one[resource.PropertyKey(k)]); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if Text(one["tags"].ObjectValue()["Name"]) != "vpn" {
		t.Errorf("tags %v", one["tags"])
	}
	_, err = InstanceResult("eu-west-1", props("instanceId", "i-9"), all)
	if err == nil || !strings.HasPrefix(err.Error(), "InvalidInstanceID.NotFound: The instance ID 'i-9' does not exist") {
		t.Errorf("unknown id: %v", err)
	}
}
