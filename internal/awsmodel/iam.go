package awsmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// IAM (issue 16: the HA monitor's instance role). IAM is global: names are
// unique per account whatever region the provider that creates them is
// configured with.

// Type tokens of the IAM resources.
const (
	Role            = "aws:iam/role:Role"
	RolePolicy      = "aws:iam/rolePolicy:RolePolicy"
	InstanceProfile = "aws:iam/instanceProfile:InstanceProfile"
)

// Account is the emulated AWS account's id (in every ARN the lab hands out).
const Account = "123456789012"

// Regions are the regions whose EC2 endpoint (ec2.<region>.amazonaws.com)
// the lab serves: AWS's commercial regions. Resources may be created in any
// region of the right shape; the EC2 API answers only for these.
var Regions = []string{
	"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
	"mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

// EC2Host is the EC2 endpoint's host name in a region.
func EC2Host(region string) string { return "ec2." + region + ".amazonaws.com" }

func init() {
	// name and namePrefix: one of them or neither (the provider then names
	// it from the resource name); both force a new resource, as every
	// change of a role's, policy's or profile's name does in IAM.
	Kinds[Role] = &Kind{Token: Role, IDPrefix: "role", AutoName: "name", Inputs: map[string]Change{
		"name": Replace, "namePrefix": Replace, "assumeRolePolicy": Update, "description": Update, "tags": Update}}
	Kinds[RolePolicy] = &Kind{Token: RolePolicy, IDPrefix: "policy", AutoName: "name", Inputs: map[string]Change{
		"role": Replace, "name": Replace, "namePrefix": Replace, "policy": Update}}
	Kinds[InstanceProfile] = &Kind{Token: InstanceProfile, IDPrefix: "profile", AutoName: "name", Inputs: map[string]Change{
		"name": Replace, "namePrefix": Replace, "role": Update, "tags": Update}}
}

// IAMUniqueID is the unique id IAM gives a role (AROA...) or an instance
// profile (AIPA...): 21 upper-case letters and digits, stable for a name.
func IAMUniqueID(prefix, name string) string {
	sum := sha256.Sum256([]byte(prefix + "/" + name))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

// iamOutputs are what IAM computes for a role, a role policy or an
// instance profile; id is the resource id (the name; role:name for a role
// policy). A name among the inputs wins (the unit tests' mocks give ids of
// their own).
func iamOutputs(token, id string, out resource.PropertyMap) {
	str := resource.NewProperty[string]
	if n := Text(out["name"]); n != "" && token != RolePolicy {
		id = n
	}
	arn := func(kind, name string) resource.PropertyValue {
		return str("arn:aws:iam::" + Account + ":" + kind + "/" + name)
	}
	switch token {
	case Role:
		out["name"] = str(id)
		out["arn"] = arn("role", id)
		out["uniqueId"] = str(IAMUniqueID("AROA", id))
		out["path"] = str("/")
		out["maxSessionDuration"] = resource.NewProperty(3600.0)
		out["createDate"] = str("2026-01-01T00:00:00Z")
	case RolePolicy:
		if Text(out["name"]) == "" {
			_, name, _ := strings.Cut(id, ":")
			out["name"] = str(name)
		}
	case InstanceProfile:
		out["name"] = str(id)
		out["arn"] = arn("instance-profile", id)
		out["uniqueId"] = str(IAMUniqueID("AIPA", id))
		out["path"] = str("/")
		out["createDate"] = str("2026-01-01T00:00:00Z")
	}
}
