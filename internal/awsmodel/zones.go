package awsmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Zones and instance type offerings, in one place for the lab and the
// mocks: every emulated region has zones <region>a, b and c (us-east-1: a
// to f), and every zone offers every instance type except us-east-1e, which
// offers no t3.* and no t4g.* type (as in reality t3.micro is missing from
// one us-east-1 zone: "Your requested instance type (t3.micro) is not
// supported in your requested Availability Zone (us-east-1e)", reported in
// ned1313/Getting-Started-Terraform#44 and RedHatGov/redhatgov.workshops#113).

// Zones are a region's availability zones, in order.
func Zones(region string) []string {
	letters := "abc"
	if region == "us-east-1" {
		letters = "abcdef"
	}
	var out []string
	for _, l := range letters {
		out = append(out, region+string(l))
	}
	return out
}

// IsZone reports whether zone is one of region's zones.
func IsZone(region, zone string) bool {
	for _, z := range Zones(region) {
		if z == zone {
			return true
		}
	}
	return false
}

// DefaultZone is the zone AWS picks for a subnet created without one: the
// worst case, deterministically (us-east-1e in us-east-1, where t3 and t4g
// types are not offered; <region>a elsewhere).
func DefaultZone(region string) string {
	if region == "us-east-1" {
		return "us-east-1e"
	}
	return region + "a"
}

// ZoneID is a zone's id, such as use1-az1: the region's short code and the
// zone's position. (AWS maps names to ids per account; the lab maps them in
// order.)
func ZoneID(zone string) string {
	if len(zone) < 2 {
		return zone
	}
	region, letter := zone[:len(zone)-1], zone[len(zone)-1]
	parts := strings.Split(region, "-")
	short := parts[0]
	// east -> e, central -> c, northeast -> ne, southwest -> sw
	for _, p := range parts[1 : len(parts)-1] {
		short += p[:1]
		for _, d := range []string{"north", "south"} {
			if rest := strings.TrimPrefix(p, d); rest != p && rest != "" {
				short += rest[:1]
			}
		}
	}
	short += parts[len(parts)-1]
	return fmt.Sprintf("%s-az%d", short, int(letter-'a')+1)
}

// Offers reports whether a zone offers an instance type.
func Offers(zone, instanceType string) bool {
	if zone == "us-east-1e" {
		return !strings.HasPrefix(instanceType, "t3.") && !strings.HasPrefix(instanceType, "t4g.")
	}
	return true
}

// OfferingZones are the zones of a region that offer an instance type,
// sorted.
func OfferingZones(region, instanceType string) []string {
	var out []string
	for _, z := range Zones(region) {
		if Offers(z, instanceType) {
			out = append(out, z)
		}
	}
	sort.Strings(out)
	return out
}

// UnsupportedInZone is RunInstances' refusal of a type a zone does not
// offer, in AWS's text (as reported in ned1313/Getting-Started-Terraform#44:
// "Unsupported: Your requested instance type (t3.micro) is not supported in
// your requested Availability Zone (us-east-1e). Please retry your request
// by not specifying an Availability Zone or choosing us-east-1a, us-east-1b,
// us-east-1c, us-east-1d, us-east-1f.").
func UnsupportedInZone(zone, instanceType string) error {
	region := zone[:len(zone)-1]
	return APIError("Unsupported", "Your requested instance type (%s) is not supported in your requested Availability Zone (%s). Please retry your request by not specifying an Availability Zone or choosing %s.",
		instanceType, zone, strings.Join(OfferingZones(region, instanceType), ", "))
}

// InvalidZone is CreateSubnet's refusal of a zone the region does not have,
// in moto's text (moto 5.2.1, ec2/exceptions.py InvalidAvailabilityZoneError;
// moto lists the zones of every region, AWS and the lab those of the
// subnet's region).
func InvalidZone(region, zone string) error {
	return APIError("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.",
		zone, strings.Join(Zones(region), ", "))
}

// Emulated images carry their architecture in their id: eight hex digits
// of the query's hash, then nine of a hash of those and the architecture.
// An id in that form names an emulated image of one architecture; any other
// id (an image the program pins) has none the lab knows.
func imageID(seed [32]byte, arch string) string {
	head := hex.EncodeToString(seed[:])[:8]
	return "ami-" + head + imageTag(head, arch)
}

func imageTag(head, arch string) string {
	sum := sha256.Sum256([]byte("vpclink emulated image/" + head + "/" + arch))
	return hex.EncodeToString(sum[:])[:9]
}

// ImageArchitecture is the architecture of an emulated image (from
// AmiResult), false for any other id.
func ImageArchitecture(imageID string) (string, bool) {
	h := strings.TrimPrefix(imageID, "ami-")
	if len(h) != 17 || h == imageID {
		return "", false
	}
	for _, arch := range []string{"x86_64", "arm64"} {
		if imageTag(h[:8], arch) == h[8:] {
			return arch, true
		}
	}
	return "", false
}

// ArchitectureMismatch is RunInstances' refusal of an image of another
// architecture than the instance type's, in AWS's text (as reported in
// hashicorp/packer#11429 and skypilot-org/skypilot#6315; moto has none).
// It is nil when they match or the image is not an emulated one.
func ArchitectureMismatch(instanceType, imageID string) error {
	arch, ok := ImageArchitecture(imageID)
	if !ok {
		return nil
	}
	archs := Architectures(instanceType)
	for _, a := range archs {
		if a == arch {
			return nil
		}
	}
	return APIError("InvalidParameterValue", "The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.",
		archs[len(archs)-1], arch)
}
