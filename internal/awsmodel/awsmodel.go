// Package awsmodel is what AWS (through the pulumi-aws provider v6) answers
// for the resource types and functions the vpclink program uses: resource
// ids, computed outputs, which input changes update in place and which
// replace, and the functions' results. The unit tests' mock monitor
// (internal/mockaws) and the lab's emulated provider plugin (lab/plugins/aws)
// both use it, so the two cannot drift apart.
package awsmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Change is what a change of one input does to an existing resource.
type Change int

const (
	// Update is applied in place.
	Update Change = iota
	// Replace needs a new resource.
	Replace
)

// Kind describes one resource type.
type Kind struct {
	// Token is the Pulumi type token.
	Token string
	// IDPrefix starts the resource ids AWS hands out ("vpc", "i", ...).
	IDPrefix string
	// Inputs are the inputs the program sets and what changing each does,
	// following the AWS provider's schema (ForceNew means Replace). Any
	// other input is not modelled, and the lab refuses it.
	Inputs map[string]Change
	// AutoName is the input the provider fills from the resource name plus
	// a random suffix when the program leaves it unset ("" for none).
	AutoName string
}

// Type tokens of the resources the program uses.
const (
	VPC                   = "aws:ec2/vpc:Vpc"
	InternetGateway       = "aws:ec2/internetGateway:InternetGateway"
	RouteTable            = "aws:ec2/routeTable:RouteTable"
	Route                 = "aws:ec2/route:Route"
	Subnet                = "aws:ec2/subnet:Subnet"
	RouteTableAssociation = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	SecurityGroup         = "aws:ec2/securityGroup:SecurityGroup"
	IngressRule           = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	EgressRule            = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	KeyPair               = "aws:ec2/keyPair:KeyPair"
	Instance              = "aws:ec2/instance:Instance"
	EIP                   = "aws:ec2/eip:Eip"
)

// Functions the program invokes.
const (
	GetInstanceType = "aws:ec2/getInstanceType:getInstanceType"
	GetAmi          = "aws:ec2/getAmi:getAmi"
)

var ruleInputs = map[string]Change{
	"securityGroupId": Replace, "ipProtocol": Update, "cidrIpv4": Update,
	"fromPort": Update, "toPort": Update, "description": Update, "tags": Update,
}

// Kinds are the modelled resource types, by token.
var Kinds = map[string]*Kind{
	VPC: {Token: VPC, IDPrefix: "vpc", Inputs: map[string]Change{
		"cidrBlock": Replace, "enableDnsHostnames": Update, "enableDnsSupport": Update, "tags": Update}},
	// Attaching to another VPC is a detach and an attach, in place.
	InternetGateway: {Token: InternetGateway, IDPrefix: "igw", Inputs: map[string]Change{
		"vpcId": Update, "tags": Update}},
	RouteTable: {Token: RouteTable, IDPrefix: "rtb", Inputs: map[string]Change{
		"vpcId": Replace, "tags": Update}},
	// ReplaceRoute changes the target in place.
	Route: {Token: Route, IDPrefix: "r", Inputs: map[string]Change{
		"routeTableId": Replace, "destinationCidrBlock": Replace, "gatewayId": Update, "networkInterfaceId": Update}},
	Subnet: {Token: Subnet, IDPrefix: "subnet", Inputs: map[string]Change{
		"vpcId": Replace, "cidrBlock": Replace, "availabilityZone": Replace, "tags": Update}},
	RouteTableAssociation: {Token: RouteTableAssociation, IDPrefix: "rtbassoc", Inputs: map[string]Change{
		"subnetId": Replace, "routeTableId": Update}},
	SecurityGroup: {Token: SecurityGroup, IDPrefix: "sg", AutoName: "name", Inputs: map[string]Change{
		"vpcId": Replace, "name": Replace, "description": Replace, "tags": Update}},
	IngressRule: {Token: IngressRule, IDPrefix: "sgr", Inputs: ruleInputs},
	EgressRule:  {Token: EgressRule, IDPrefix: "sgr", Inputs: ruleInputs},
	KeyPair: {Token: KeyPair, IDPrefix: "key", AutoName: "keyName", Inputs: map[string]Change{
		"publicKey": Replace, "keyName": Replace, "tags": Update}},
	// instanceType and userData are in place: the provider stops the
	// instance, modifies it and starts it again (userData replaces only
	// with userDataReplaceOnChange). The fixed private IP, the subnet, the
	// image and the key pair cannot change on a running instance.
	Instance: {Token: Instance, IDPrefix: "i", Inputs: map[string]Change{
		"ami": Replace, "instanceType": Update, "subnetId": Replace, "privateIp": Replace,
		"vpcSecurityGroupIds": Update, "keyName": Replace, "sourceDestCheck": Update,
		"metadataOptions": Update, "rootBlockDevice": Update, "tags": Update,
		"userData": Update, "userDataReplaceOnChange": Update, "availabilityZone": Replace,
		// AssociateIamInstanceProfile or ReplaceIamInstanceProfileAssociation.
		"iamInstanceProfile": Update}},
	EIP: {Token: EIP, IDPrefix: "eipalloc", Inputs: map[string]Change{
		"domain": Replace, "instance": Update, "tags": Update}},
}

// StopsInstance lists the Instance inputs whose in-place update stops and
// starts the instance (the provider's ModifyInstanceAttribute rules).
var StopsInstance = []string{"instanceType", "userData"}

// Unmodelled returns the inputs of a resource that the model does not know,
// sorted; they would be silently ignored, so callers refuse them.
func Unmodelled(token string, inputs resource.PropertyMap) []string {
	k := Kinds[token]
	var out []string
	for key := range inputs {
		name := string(key)
		if strings.HasPrefix(name, "__") {
			continue
		}
		if k == nil {
			out = append(out, name)
		} else if _, ok := k.Inputs[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Diff compares the old and new inputs of a resource: the changed keys,
// sorted, and those among them that force a replacement.
func Diff(token string, olds, news resource.PropertyMap) (changed, replaces []string) {
	k := Kinds[token]
	keys := map[string]bool{}
	for key := range olds {
		keys[string(key)] = true
	}
	for key := range news {
		keys[string(key)] = true
	}
	for key := range keys {
		if strings.HasPrefix(key, "__") {
			continue
		}
		o, n := olds[resource.PropertyKey(key)], news[resource.PropertyKey(key)]
		if Equal(o, n) {
			continue
		}
		changed = append(changed, key)
		if k == nil {
			continue
		}
		c := k.Inputs[key]
		if token == Instance && key == "rootBlockDevice" && rootEncryptionChanged(o, n) {
			c = Replace
		}
		if token == Instance && key == "userData" && Text(news["userDataReplaceOnChange"]) == "true" {
			c = Replace
		}
		if token == Instance && key == "instanceType" && !sharesArchitecture(Text(o), Text(n)) {
			c = Replace
		}
		if c == Replace {
			replaces = append(replaces, key)
		}
	}
	sort.Strings(changed)
	sort.Strings(replaces)
	return changed, replaces
}

// sharesArchitecture: the AWS provider (since terraform-provider-aws PR
// #36590, in 5.100.0 under pulumi-aws 6.83) replaces an instance whose new
// type shares no architecture with the old one (x86_64 <-> arm64); it asks
// DescribeInstanceTypes at plan time, which the offline plan in
// terraform_test.go cannot, so this rule is from the provider's change log.
func sharesArchitecture(a, b string) bool {
	for _, x := range Architectures(a) {
		for _, y := range Architectures(b) {
			if x == y {
				return true
			}
		}
	}
	return false
}

// rootEncryptionChanged: encrypting an existing root volume needs a new one.
func rootEncryptionChanged(o, n resource.PropertyValue) bool {
	get := func(v resource.PropertyValue) string {
		if v = Unwrap(v); v.IsObject() {
			return Text(v.ObjectValue()["encrypted"])
		}
		return ""
	}
	return get(o) != get(n)
}

// Equal compares two property values, ignoring secret wrappers and treating
// null and absent alike.
func Equal(a, b resource.PropertyValue) bool {
	a, b = Unwrap(a), Unwrap(b)
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	switch {
	case a.IsObject() && b.IsObject():
		ao, bo := a.ObjectValue(), b.ObjectValue()
		for k, v := range ao {
			if !Equal(v, bo[k]) {
				return false
			}
		}
		for k, v := range bo {
			if _, ok := ao[k]; !ok && !v.IsNull() {
				return false
			}
		}
		return true
	case a.IsArray() && b.IsArray():
		aa, ba := a.ArrayValue(), b.ArrayValue()
		if len(aa) != len(ba) {
			return false
		}
		for i := range aa {
			if !Equal(aa[i], ba[i]) {
				return false
			}
		}
		return true
	}
	return a.DeepEquals(b)
}

// Unwrap returns v without its secret wrappers.
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Text renders a scalar property as text ("" for others), secrets
// unwrapped; whole numbers without a fraction.
func Text(v resource.PropertyValue) string {
	v = Unwrap(v)
	switch {
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		f := v.NumberValue()
		if f == float64(int64(f)) {
			return fmt.Sprint(int64(f))
		}
		return fmt.Sprint(f)
	case v.IsBool():
		return fmt.Sprint(v.BoolValue())
	}
	return ""
}

// StableID is a resource id derived from the type and name, for mocks that
// must give the same id on every run.
func StableID(token, name string) string {
	sum := sha256.Sum256([]byte(token + "/" + name))
	return IDPrefix(token) + "-" + hex.EncodeToString(sum[:])[:17]
}

// IDPrefix returns the id prefix of a type ("id" when not modelled).
func IDPrefix(token string) string {
	if k := Kinds[token]; k != nil {
		return k.IDPrefix
	}
	return "id"
}

// AutoName is the name the provider gives when the program sets none: the
// resource name, a dash and seven hex characters of suffix.
func AutoName(name, suffix string) string { return name + "-" + suffix[:7] }

// Outputs are a new resource's outputs: its inputs (secrets stay wrapped)
// plus what AWS computes. publicIP is the address given to an Elastic IP.
func Outputs(token, id, name string, inputs resource.PropertyMap, region, publicIP string) resource.PropertyMap {
	out := inputs.Copy()
	arn := func(kind string) resource.PropertyValue {
		return resource.NewProperty(fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", region, Account, kind, id))
	}
	str := resource.NewProperty[string]
	switch token {
	case VPC:
		out["arn"] = arn("vpc")
		out["instanceTenancy"] = str("default")
	case InternetGateway:
		out["arn"] = arn("internet-gateway")
	case RouteTable:
		out["arn"] = arn("route-table")
	case Route:
		out["origin"] = str("CreateRoute")
		out["state"] = str("active")
	case Subnet:
		out["arn"] = arn("subnet")
		if Text(inputs["availabilityZone"]) == "" {
			out["availabilityZone"] = str(DefaultZone(region))
		}
	case SecurityGroup:
		out["arn"] = arn("security-group")
		if Text(inputs["name"]) == "" {
			out["name"] = str(AutoName(name, strings.TrimPrefix(id, "sg-")))
		}
	case IngressRule, EgressRule:
		out["arn"] = arn("security-group-rule")
		out["securityGroupRuleId"] = str(id)
	case KeyPair:
		out["arn"] = arn("key-pair")
		out["keyPairId"] = str(id)
		if Text(inputs["keyName"]) == "" {
			out["keyName"] = str(AutoName(name, strings.TrimPrefix(id, "key-")))
		}
	case Instance:
		out["arn"] = arn("instance")
		out["primaryNetworkInterfaceId"] = str("eni-" + strings.TrimPrefix(id, "i-"))
		out["privateIp"] = str(Text(inputs["privateIp"]))
		out["instanceState"] = str("running")
	case Role, RolePolicy, InstanceProfile:
		iamOutputs(token, id, out)
	case EIP:
		out["publicIp"] = str(publicIP)
		out["allocationId"] = str(id)
		if Text(inputs["instance"]) != "" {
			out["associationId"] = str("eipassoc-" + strings.TrimPrefix(id, "eipalloc-"))
		}
	}
	return out
}

// Architectures answers getInstanceType: Graviton families (a "g" right
// after the generation digit: t4g, m7g, c7gn) are arm64, the rest x86_64.
func Architectures(instanceType string) []string {
	family := strings.SplitN(instanceType, ".", 2)[0]
	for i := 1; i < len(family); i++ {
		if family[i-1] >= '0' && family[i-1] <= '9' && family[i] == 'g' {
			return []string{"arm64"}
		}
	}
	return []string{"i386", "x86_64"}
}

// InstanceTypeResult is getInstanceType's answer.
func InstanceTypeResult(instanceType string) resource.PropertyMap {
	var vals []resource.PropertyValue
	for _, a := range Architectures(instanceType) {
		vals = append(vals, resource.NewProperty(a))
	}
	return resource.PropertyMap{
		"id":                     resource.NewProperty(instanceType),
		"instanceType":           resource.NewProperty(instanceType),
		"supportedArchitectures": resource.NewProperty(vals),
	}
}

// AmiResult is getAmi's answer: an image id that depends on the region and
// the query only (the newest image matching it).
func AmiResult(region string, args resource.PropertyMap) resource.PropertyMap {
	sum := sha256.Sum256([]byte(region + fmt.Sprint(args)))
	arch := "x86_64"
	if strings.Contains(fmt.Sprint(args), "arm64") {
		arch = "arm64"
	}
	id := imageID(sum, arch)
	return resource.PropertyMap{
		"id":           resource.NewProperty(id),
		"imageId":      resource.NewProperty(id),
		"architecture": resource.NewProperty(arch),
	}
}
