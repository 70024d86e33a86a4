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
