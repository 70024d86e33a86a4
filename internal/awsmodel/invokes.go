package awsmodel

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Functions for zones and instance type offerings, answered alike by the lab's
// stand-in (from the world) and the unit tests' mocks (from their
// registrations). Results follow pulumi-aws v6.83.4's Go SDK result structs
// (their pulumi tags); arguments and filters not implemented are refused
// by name.
const (
	GetInstanceTypeOfferings = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
	GetAvailabilityZones     = "aws:index/getAvailabilityZones:getAvailabilityZones"
)

func notImplemented(token, what string) error {
	return fmt.Errorf("vpclink emulation: %s: %s is not emulated", token, what)
}

// checkArgs refuses arguments other than those allowed.
func checkArgs(token string, args resource.PropertyMap, allowed ...string) error {
	for k, v := range args {
		if v.IsNull() {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || string(k) == a
		}
		if !ok {
			return notImplemented(token, fmt.Sprintf("argument %q", k))
		}
	}
	return nil
}

// filters reads a function's filters ({name, values}), refusing names
// other than those allowed.
func filters(token string, args resource.PropertyMap, allowed ...string) (map[string][]string, error) {
	out := map[string][]string{}
	v := Unwrap(args["filters"])
	if !v.IsArray() {
		return out, nil
	}
	for _, f := range v.ArrayValue() {
		if f = Unwrap(f); !f.IsObject() {
			continue
		}
		obj := f.ObjectValue()
		name := Text(obj["name"])
		ok := false
		for _, a := range allowed {
			ok = ok || name == a
		}
		if !ok {
			return nil, notImplemented(token, fmt.Sprintf("filter %q", name))
		}
		out[name] = append(out[name], stringsOf(obj["values"])...)
	}
	return out, nil
}

func stringsOf(v resource.PropertyValue) []string {
	var out []string
	if v = Unwrap(v); v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, Text(e))
		}
	}
	return out
}

func stringList(s []string) resource.PropertyValue {
	vals := []resource.PropertyValue{}
	for _, x := range s {
		vals = append(vals, resource.NewProperty(x))
	}
	return resource.NewProperty(vals)
}

// InstanceTypeOfferingsResult answers getInstanceTypeOfferings with an
// instance-type filter and locationType availability-zone: one entry per
// zone offering a type, by zone.
func InstanceTypeOfferingsResult(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	tok := GetInstanceTypeOfferings
	if err := checkArgs(tok, args, "filters", "locationType"); err != nil {
		return nil, err
	}
	if lt := Text(args["locationType"]); lt != "availability-zone" {
		return nil, notImplemented(tok, fmt.Sprintf("locationType %q (only \"availability-zone\")", lt))
	}
	f, err := filters(tok, args, "instance-type")
	if err != nil {
		return nil, err
	}
	types := append([]string(nil), f["instance-type"]...)
	if len(types) == 0 {
		return nil, notImplemented(tok, "a query without an instance-type filter")
	}
	sort.Strings(types)
	var its, lts, locs []string
	for _, z := range Zones(region) {
		for _, t := range types {
			if Offers(z, t) {
				its, lts, locs = append(its, t), append(lts, "availability-zone"), append(locs, z)
			}
		}
	}
	out := resource.PropertyMap{
		"id": resource.NewProperty(region), "instanceTypes": stringList(its),
		"locationTypes": stringList(lts), "locations": stringList(locs),
		"locationType": resource.NewProperty("availability-zone"),
	}
	if v, ok := args["filters"]; ok {
		out["filters"] = v
	}
	return out, nil
}

// AvailabilityZonesResult answers getAvailabilityZones (state "available"
// or unset): every zone of the region is available.
func AvailabilityZonesResult(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	tok := GetAvailabilityZones
	if err := checkArgs(tok, args, "state"); err != nil {
		return nil, err
	}
	if s := Text(args["state"]); s != "" && s != "available" {
		return nil, notImplemented(tok, fmt.Sprintf("state %q", s))
	}
	var ids, groups []string
	names := Zones(region)
	for _, z := range names {
		ids, groups = append(ids, ZoneID(z)), append(groups, region)
	}
	out := resource.PropertyMap{
		"id": resource.NewProperty(region), "names": stringList(names),
		"zoneIds": stringList(ids), "groupNames": stringList(groups),
	}
	if s := Text(args["state"]); s != "" {
		out["state"] = resource.NewProperty(s)
	}
	return out, nil
}
