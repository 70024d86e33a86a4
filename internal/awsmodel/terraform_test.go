package awsmodel

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The real provider under pulumi-aws v6.83: Terraform's AWS provider 5.100.0,
// where this machine has it unpacked as a filesystem mirror.
const (
	tfMirror      = "/opt/tf-plugins"
	tfProviderDir = tfMirror + "/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
)

// tfKind is how one modelled resource type looks in Terraform: its type,
// the state's schema version, the configuration the program's inputs amount
// to (Terraform's JSON syntax: blocks are one-element lists, tags a map),
// and what else the state of an existing resource holds (ids and computed
// attributes; a block's computed attributes are merged into the
// configuration's block).
type tfKind struct {
	tfType        string
	schemaVersion int
	config        map[string]any
	state         map[string]any
}

var (
	tfTags    = map[string]any{"Name": "a", "vpclink": "site-a"}
	tfNewTags = map[string]any{"Name": "a", "vpclink": "site-b"}
)

const (
	tfUserData    = "#cloud-config\nssh_deletekeys: true\n"
	tfNewUserData = "#cloud-config\nssh_deletekeys: false\n"
	tfPublicKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdDStDAYHVpGQVrOBiI2Sd6cBdOH0qC+AJGJN/xM1y9 a"
	tfNewKey      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpGq4b2Aq/O5t3JmH3rLI5T8X5oNcQa8r2H3Ay6T1dM b"
)

// IAM policy documents as the provider keeps them (compact JSON).
const (
	tfAssumeRole    = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`
	tfNewAssumeRole = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}],"Version":"2012-10-17"}`
	tfPolicy        = `{"Statement":[{"Action":"ec2:DescribeRouteTables","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`
	tfNewPolicy     = `{"Statement":[{"Action":"ec2:ReplaceRoute","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`
)

func tfARN(kind, id string) string {
	return "arn:aws:ec2:eu-west-1:123456789012:" + kind + "/" + id
}

func tfRule(egress bool) tfKind {
	t := "aws_vpc_security_group_ingress_rule"
	if egress {
		t = "aws_vpc_security_group_egress_rule"
	}
	return tfKind{tfType: t, config: map[string]any{
		"security_group_id": "sg-0aaaaaaaaaaaaaaaa", "ip_protocol": "tcp", "cidr_ipv4": "203.0.113.0/24",
		"from_port": 22, "to_port": 22, "description": "SSH", "tags": tfTags,
	}, state: map[string]any{
		"id": "sgr-0aaaaaaaaaaaaaaaa", "security_group_rule_id": "sgr-0aaaaaaaaaaaaaaaa",
		"arn": tfARN("security-group-rule", "sgr-0aaaaaaaaaaaaaaaa"), "tags_all": tfTags,
	}}
}

// tfKinds: the Terraform side of every modelled token.
var tfKinds = map[string]tfKind{
	VPC: {tfType: "aws_vpc", schemaVersion: 1, config: map[string]any{
		"cidr_block": "10.0.0.0/16", "enable_dns_hostnames": true, "enable_dns_support": true, "tags": tfTags,
	}, state: map[string]any{
		"id": "vpc-0aaaaaaaaaaaaaaaa", "arn": tfARN("vpc", "vpc-0aaaaaaaaaaaaaaaa"),
		"assign_generated_ipv6_cidr_block": false, "default_network_acl_id": "acl-0aaaaaaaaaaaaaaaa",
		"default_route_table_id": "rtb-0aaaaaaaaaaaaaaaa", "default_security_group_id": "sg-0bbbbbbbbbbbbbbbb",
		"dhcp_options_id": "dopt-0aaaaaaaaaaaaaaaa", "enable_network_address_usage_metrics": false,
		"instance_tenancy": "default", "ipv6_association_id": "", "ipv6_cidr_block": "",
		"ipv6_cidr_block_network_border_group": "", "main_route_table_id": "rtb-0aaaaaaaaaaaaaaaa",
		"owner_id": "123456789012", "tags_all": tfTags,
	}},
	InternetGateway: {tfType: "aws_internet_gateway", config: map[string]any{
		"vpc_id": "vpc-0aaaaaaaaaaaaaaaa", "tags": tfTags,
	}, state: map[string]any{
		"id": "igw-0aaaaaaaaaaaaaaaa", "arn": tfARN("internet-gateway", "igw-0aaaaaaaaaaaaaaaa"),
		"owner_id": "123456789012", "tags_all": tfTags,
	}},
	RouteTable: {tfType: "aws_route_table", config: map[string]any{
		"vpc_id": "vpc-0aaaaaaaaaaaaaaaa", "tags": tfTags,
	}, state: map[string]any{
		"id": "rtb-0bbbbbbbbbbbbbbbb", "arn": tfARN("route-table", "rtb-0bbbbbbbbbbbbbbbb"),
		"owner_id": "123456789012", "propagating_vgws": []any{}, "route": []any{}, "tags_all": tfTags,
	}},
	Route: {tfType: "aws_route", config: map[string]any{
		"route_table_id": "rtb-0bbbbbbbbbbbbbbbb", "destination_cidr_block": "0.0.0.0/0",
		"gateway_id": "igw-0aaaaaaaaaaaaaaaa",
	}, state: map[string]any{
		"id": "r-rtb-0bbbbbbbbbbbbbbbb1080289494", "origin": "CreateRoute", "state": "active",
		"carrier_gateway_id": "", "core_network_arn": "", "destination_ipv6_cidr_block": "",
		"destination_prefix_list_id": "", "egress_only_gateway_id": "", "instance_id": "",
		"instance_owner_id": "", "local_gateway_id": "", "nat_gateway_id": "", "network_interface_id": "",
		"transit_gateway_id": "", "vpc_endpoint_id": "", "vpc_peering_connection_id": "",
	}},
	Subnet: {tfType: "aws_subnet", schemaVersion: 1, config: map[string]any{
		"vpc_id": "vpc-0aaaaaaaaaaaaaaaa", "cidr_block": "10.0.1.0/24", "availability_zone": "eu-west-1a", "tags": tfTags,
	}, state: map[string]any{
		"id": "subnet-0aaaaaaaaaaaaaaaa", "arn": tfARN("subnet", "subnet-0aaaaaaaaaaaaaaaa"),
		"assign_ipv6_address_on_creation": false, "availability_zone_id": "euw1-az1",
		"customer_owned_ipv4_pool": "", "enable_dns64": false, "enable_lni_at_device_index": 0,
		"enable_resource_name_dns_a_record_on_launch": false, "enable_resource_name_dns_aaaa_record_on_launch": false,
		"ipv6_cidr_block": "", "ipv6_cidr_block_association_id": "", "ipv6_native": false,
		"map_customer_owned_ip_on_launch": false, "map_public_ip_on_launch": false, "outpost_arn": "",
		"owner_id": "123456789012", "private_dns_hostname_type_on_launch": "ip-name", "tags_all": tfTags,
	}},
	RouteTableAssociation: {tfType: "aws_route_table_association", config: map[string]any{
		"subnet_id": "subnet-0aaaaaaaaaaaaaaaa", "route_table_id": "rtb-0bbbbbbbbbbbbbbbb",
	}, state: map[string]any{
		"id": "rtbassoc-0aaaaaaaaaaaaaaaa", "gateway_id": "",
	}},
	SecurityGroup: {tfType: "aws_security_group", schemaVersion: 1, config: map[string]any{
		"vpc_id": "vpc-0aaaaaaaaaaaaaaaa", "name": "site-vpn-sg-0a1b2c3", "description": "vpclink VPN instance", "tags": tfTags,
	}, state: map[string]any{
		"id": "sg-0aaaaaaaaaaaaaaaa", "arn": tfARN("security-group", "sg-0aaaaaaaaaaaaaaaa"),
		"egress": []any{}, "ingress": []any{}, "name_prefix": "", "owner_id": "123456789012",
		"revoke_rules_on_delete": false, "tags_all": tfTags,
	}},
	IngressRule: tfRule(false),
	EgressRule:  tfRule(true),
	KeyPair: {tfType: "aws_key_pair", schemaVersion: 1, config: map[string]any{
		"key_name": "site-ssh-0a1b2c3", "public_key": tfPublicKey, "tags": tfTags,
	}, state: map[string]any{
		"id": "site-ssh-0a1b2c3", "arn": tfARN("key-pair", "site-ssh-0a1b2c3"),
		"fingerprint": "SHA256:0000000000000000000000000000000000000000000", "key_name_prefix": "",
		"key_pair_id": "key-0aaaaaaaaaaaaaaaa", "key_type": "ed25519", "tags_all": tfTags,
	}},
	Instance: {tfType: "aws_instance", schemaVersion: 1, config: map[string]any{
		"ami": "ami-0aaaaaaaaaaaaaaaa", "instance_type": "t3.micro", "subnet_id": "subnet-0aaaaaaaaaaaaaaaa",
		"private_ip": "10.0.1.10", "vpc_security_group_ids": []any{"sg-0aaaaaaaaaaaaaaaa"},
		"key_name": "site-ssh-0a1b2c3", "source_dest_check": false,
		"metadata_options":  []any{map[string]any{"http_endpoint": "enabled", "http_tokens": "required"}},
		"root_block_device": []any{map[string]any{"encrypted": true, "volume_type": "gp3"}},
		"tags":              tfTags, "user_data": tfUserData, "user_data_replace_on_change": true,
		"availability_zone": "eu-west-1a",
	}, state: map[string]any{
		"id": "i-0aaaaaaaaaaaaaaaa", "arn": tfARN("instance", "i-0aaaaaaaaaaaaaaaa"),
		"associate_public_ip_address": false,
		"capacity_reservation_specification": []any{map[string]any{
			"capacity_reservation_preference": "open", "capacity_reservation_target": []any{}}},
		"cpu_core_count": 1, "cpu_threads_per_core": 2,
		"cpu_options":          []any{map[string]any{"amd_sev_snp": "", "core_count": 1, "threads_per_core": 2}},
		"credit_specification": []any{map[string]any{"cpu_credits": "unlimited"}},
		"disable_api_stop":     false, "disable_api_termination": false,
		"ebs_block_device": []any{}, "ebs_optimized": false, "enable_primary_ipv6": nil,
		"enclave_options":        []any{map[string]any{"enabled": false}},
		"ephemeral_block_device": []any{}, "get_password_data": false, "hibernation": false,
		"host_id": "", "host_resource_group_arn": "", "iam_instance_profile": "",
		"instance_initiated_shutdown_behavior": "stop", "instance_lifecycle": "",
		"instance_market_options": []any{}, "instance_state": "running",
		"ipv6_address_count": 0, "ipv6_addresses": []any{}, "launch_template": []any{},
		"maintenance_options": []any{map[string]any{"auto_recovery": "default"}},
		"metadata_options": []any{map[string]any{"http_protocol_ipv6": "disabled",
			"http_put_response_hop_limit": 2, "instance_metadata_tags": "disabled"}},
		"monitoring": false, "network_interface": []any{}, "outpost_arn": "", "password_data": "",
		"placement_group": "", "placement_partition_number": 0,
		"primary_network_interface_id": "eni-0aaaaaaaaaaaaaaaa",
		"private_dns":                  "ip-10-0-1-10.eu-west-1.compute.internal",
		"private_dns_name_options": []any{map[string]any{"enable_resource_name_dns_a_record": false,
			"enable_resource_name_dns_aaaa_record": false, "hostname_type": "ip-name"}},
		"public_dns": "", "public_ip": "",
		"root_block_device": []any{map[string]any{"delete_on_termination": true, "device_name": "/dev/sda1",
			"iops": 3000, "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000",
			"tags": map[string]any{}, "tags_all": map[string]any{}, "throughput": 125,
			"volume_id": "vol-0aaaaaaaaaaaaaaaa", "volume_size": 8}},
		"secondary_private_ips": []any{}, "security_groups": []any{}, "spot_instance_request_id": "",
		"tags_all": tfTags, "tenancy": "default", "user_data_base64": nil, "volume_tags": nil,
	}},
	Role: {tfType: "aws_iam_role", config: map[string]any{
		"name": "site-monitor-role", "assume_role_policy": tfAssumeRole, "description": "vpclink monitor", "tags": tfTags,
	}, state: map[string]any{
		"id": "site-monitor-role", "name": "site-monitor-role", "arn": "arn:aws:iam::123456789012:role/site-monitor-role",
		"create_date": "2026-01-01T00:00:00Z", "force_detach_policies": false, "inline_policy": []any{},
		"managed_policy_arns": []any{}, "max_session_duration": 3600, "name_prefix": "", "path": "/",
		"permissions_boundary": "", "tags_all": tfTags, "unique_id": "AROAAAAAAAAAAAAAAAAAA",
	}},
	RolePolicy: {tfType: "aws_iam_role_policy", config: map[string]any{
		"role": "site-monitor-role", "name": "site-monitor-policy", "policy": tfPolicy,
	}, state: map[string]any{
		"id": "site-monitor-role:site-monitor-policy", "name": "site-monitor-policy", "name_prefix": "",
	}},
	InstanceProfile: {tfType: "aws_iam_instance_profile", config: map[string]any{
		"name": "site-monitor-profile", "role": "site-monitor-role", "tags": tfTags,
	}, state: map[string]any{
		"id": "site-monitor-profile", "name": "site-monitor-profile",
		"arn": "arn:aws:iam::123456789012:instance-profile/site-monitor-profile", "create_date": "2026-01-01T00:00:00Z",
		"name_prefix": "", "path": "/", "tags_all": tfTags, "unique_id": "AIPAAAAAAAAAAAAAAAAAA",
	}},
	EIP: {tfType: "aws_eip", config: map[string]any{
		"domain": "vpc", "instance": "i-0aaaaaaaaaaaaaaaa", "tags": tfTags,
	}, state: map[string]any{
		"id": "eipalloc-0aaaaaaaaaaaaaaaa", "allocation_id": "eipalloc-0aaaaaaaaaaaaaaaa",
		"arn": tfARN("elastic-ip", "eipalloc-0aaaaaaaaaaaaaaaa"), "association_id": "eipassoc-0aaaaaaaaaaaaaaaa",
		"carrier_ip": "", "customer_owned_ip": "", "customer_owned_ipv4_pool": "", "ipam_pool_id": nil,
		"network_border_group": "eu-west-1", "network_interface": "eni-0aaaaaaaaaaaaaaaa",
		"private_dns": "ip-10-0-1-10.eu-west-1.compute.internal", "private_ip": "10.0.1.10",
		"ptr_record": "", "public_dns": "ec2-198-51-100-7.eu-west-1.compute.amazonaws.com",
		"public_ip": "198.51.100.7", "public_ipv4_pool": "amazon", "vpc": true, "tags_all": tfTags,
	}},
}

// tfCase changes one attribute of a resource that exists.
type tfCase struct {
	token string
	// attr is the Terraform attribute changed ("cidr_block"), or a block's
	// attribute ("root_block_device.encrypted"); its first part, in
	// camelCase, is the Pulumi input.
	attr string
	// to is the attribute's value in the new configuration.
	to any
	// with changes the configuration before and after alike (nil removes).
	with map[string]any
	// api, when set, is the API call the provider makes to plan the change:
	// without the API its plan answers nothing, so the case is not compared.
	api string
}

var tfCases = []tfCase{
	{token: VPC, attr: "cidr_block", to: "10.1.0.0/16"},
	{token: VPC, attr: "enable_dns_hostnames", to: false},
	{token: VPC, attr: "enable_dns_support", to: false},
	{token: VPC, attr: "tags", to: tfNewTags},
	{token: InternetGateway, attr: "vpc_id", to: "vpc-0cccccccccccccccc"},
	{token: InternetGateway, attr: "tags", to: tfNewTags},
	{token: RouteTable, attr: "vpc_id", to: "vpc-0cccccccccccccccc"},
	{token: RouteTable, attr: "tags", to: tfNewTags},
	{token: Route, attr: "route_table_id", to: "rtb-0cccccccccccccccc"},
	{token: Route, attr: "destination_cidr_block", to: "10.9.0.0/16"},
	{token: Route, attr: "gateway_id", to: "igw-0cccccccccccccccc"},
	{token: Route, attr: "network_interface_id", to: "eni-0cccccccccccccccc",
		with: map[string]any{"gateway_id": nil, "network_interface_id": "eni-0aaaaaaaaaaaaaaaa"}},
	{token: Subnet, attr: "vpc_id", to: "vpc-0cccccccccccccccc"},
	{token: Subnet, attr: "cidr_block", to: "10.0.2.0/24"},
	{token: Subnet, attr: "availability_zone", to: "eu-west-1b"},
	{token: Subnet, attr: "tags", to: tfNewTags},
	{token: RouteTableAssociation, attr: "subnet_id", to: "subnet-0cccccccccccccccc"},
	{token: RouteTableAssociation, attr: "route_table_id", to: "rtb-0cccccccccccccccc"},
	{token: SecurityGroup, attr: "vpc_id", to: "vpc-0cccccccccccccccc"},
	{token: SecurityGroup, attr: "name", to: "site-vpn-sg-9f8e7d6"},
	{token: SecurityGroup, attr: "description", to: "vpclink VPN instance, renamed"},
	{token: SecurityGroup, attr: "tags", to: tfNewTags},
	{token: KeyPair, attr: "public_key", to: tfNewKey},
	{token: KeyPair, attr: "key_name", to: "site-ssh-9f8e7d6"},
	{token: KeyPair, attr: "tags", to: tfNewTags},
	{token: Instance, attr: "ami", to: "ami-0cccccccccccccccc"},
	// The provider's CustomizeDiff replaces the instance when the old and
	// the new type share no architecture, which it learns from
	// DescribeInstanceTypes; when that call fails it plans an update
	// whatever the types, so an offline plan says nothing about either of
	// these (the second, x86_64 to arm64, replaces against the real API).
	{token: Instance, attr: "instance_type", to: "t3.small", api: "DescribeInstanceTypes"},
	{token: Instance, attr: "instance_type", to: "t4g.micro", api: "DescribeInstanceTypes"},
	{token: Instance, attr: "subnet_id", to: "subnet-0cccccccccccccccc"},
	{token: Instance, attr: "private_ip", to: "10.0.1.11"},
	{token: Instance, attr: "vpc_security_group_ids", to: []any{"sg-0cccccccccccccccc"}},
	{token: Instance, attr: "key_name", to: "site-ssh-9f8e7d6"},
	{token: Instance, attr: "source_dest_check", to: true},
	{token: Instance, attr: "metadata_options.http_tokens", to: "optional"},
	{token: Instance, attr: "metadata_options.http_endpoint", to: "disabled"},
	{token: Instance, attr: "root_block_device.volume_type", to: "gp2"},
	{token: Instance, attr: "root_block_device.encrypted", to: false},
	{token: Instance, attr: "tags", to: tfNewTags},
	{token: Instance, attr: "user_data", to: tfNewUserData},
	{token: Instance, attr: "user_data", to: tfNewUserData, with: map[string]any{"user_data_replace_on_change": false}},
	{token: Instance, attr: "user_data_replace_on_change", to: false},
	{token: Instance, attr: "availability_zone", to: "eu-west-1b"},
	{token: Instance, attr: "iam_instance_profile", to: "site-monitor-profile"},
	{token: Instance, attr: "metadata_options.http_put_response_hop_limit", to: 1},
	{token: Role, attr: "name", to: "other-monitor-role"},
	{token: Role, attr: "name_prefix", to: "other-", with: map[string]any{"name": nil, "name_prefix": "site-"}},
	{token: Role, attr: "assume_role_policy", to: tfNewAssumeRole},
	{token: Role, attr: "description", to: "vpclink monitor, renamed"},
	{token: Role, attr: "tags", to: tfNewTags},
	{token: RolePolicy, attr: "role", to: "other-monitor-role"},
	{token: RolePolicy, attr: "name", to: "other-monitor-policy"},
	{token: RolePolicy, attr: "name_prefix", to: "other-", with: map[string]any{"name": nil, "name_prefix": "site-"}},
	{token: RolePolicy, attr: "policy", to: tfNewPolicy},
	{token: InstanceProfile, attr: "name", to: "other-monitor-profile"},
	{token: InstanceProfile, attr: "name_prefix", to: "other-", with: map[string]any{"name": nil, "name_prefix": "site-"}},
	{token: InstanceProfile, attr: "role", to: "other-monitor-role"},
	{token: InstanceProfile, attr: "tags", to: tfNewTags},
	{token: EIP, attr: "domain", to: "standard", with: map[string]any{"instance": nil}},
	{token: EIP, attr: "instance", to: "i-0cccccccccccccccc"},
	{token: EIP, attr: "tags", to: tfNewTags},
}

func init() {
	for _, rule := range []string{IngressRule, EgressRule} {
		for _, c := range []tfCase{
			{attr: "security_group_id", to: "sg-0cccccccccccccccc"},
			{attr: "ip_protocol", to: "udp"},
			{attr: "cidr_ipv4", to: "198.51.100.0/24"},
			{attr: "from_port", to: 21},
			{attr: "to_port", to: 23},
			{attr: "description", to: "SSH, renamed"},
			{attr: "tags", to: tfNewTags},
		} {
			c.token = rule
			tfCases = append(tfCases, c)
		}
	}
}

// tfResource is one resource of a plan: a case, or a type's control.
type tfResource struct {
	c       tfCase
	name    string
	control bool
	// model is what the model says; the rest what the plan says.
	model        Change
	actions      []string
	replacePaths [][]any
	before       map[string]any
	after        map[string]any
}

// Each input the model lists, changed on its own in a resource that exists,
// replaces or updates it as the real provider plans: Terraform with the AWS
// provider 5.100.0 (which pulumi-aws v6.83 wraps), a hand-written state and
// a configuration that changes one attribute per resource, planned without
// refresh and with the endpoints on a closed local port, so that nothing
// leaves the machine. The provider's log shows every request it tries: the
// plan that is compared must try none (a failed call could be what decided),
// and the cases that need the API are planned apart, to show they still do.
func TestTerraformPlanAgreesWithModel(t *testing.T) {
	if testing.Short() {
		t.Skip("plans with Terraform (about 20 s)")
	}
	tf, err := exec.LookPath("terraform")
	if err != nil {
		tf = "/usr/local/bin/terraform"
		if _, err := os.Stat(tf); err != nil {
			t.Skip("no terraform on this machine")
		}
	}
	if fi, err := os.Stat(filepath.Join(tfProviderDir, "terraform-provider-aws_v5.100.0_x5")); err != nil || fi.IsDir() {
		t.Skip("no Terraform AWS provider 5.100.0 under " + tfProviderDir)
	}

	// Every modelled input has a case, every case a modelled input.
	covered := map[string]bool{}
	for _, c := range tfCases {
		if k := Kinds[c.token]; k == nil {
			t.Errorf("%s: not a modelled type", c.token)
		} else if _, ok := k.Inputs[tfInput(c.attr)]; !ok {
			t.Errorf("%s %s: the model has no input %s", c.token, c.attr, tfInput(c.attr))
		}
		covered[c.token+" "+tfInput(c.attr)] = true
	}
	for token, k := range Kinds {
		if _, ok := tfKinds[token]; !ok {
			t.Errorf("%s: no Terraform resource type", token)
		}
		for input := range k.Inputs {
			if !covered[token+" "+input] {
				t.Errorf("%s %s: no case", token, input)
			}
		}
	}
	if t.Failed() {
		return
	}

	// A control per type, in the plan that is compared: the configuration
	// the state was written from plans no change, so that a case's plan
	// comes from its one change alone.
	var offline, online []*tfResource
	var tokens []string
	for token := range tfKinds {
		tokens = append(tokens, token)
	}
	sort.Strings(tokens)
	for i, token := range tokens {
		offline = append(offline, &tfResource{c: tfCase{token: token}, name: fmt.Sprintf("control%02d", i), control: true})
	}
	for i, c := range tfCases {
		r := &tfResource{c: c, name: fmt.Sprintf("case%02d", i)}
		olds, news := tfPulumi(tfWith(tfKinds[c.token].config, c.with)), tfPulumi(tfConfig(c))
		if u := Unmodelled(c.token, news); len(u) > 0 {
			t.Fatalf("%s: the configuration sets inputs the model does not know: %v", c.token, u)
		}
		changed, replaces := Diff(c.token, olds, news)
		if !reflect.DeepEqual(changed, []string{tfInput(c.attr)}) {
			t.Fatalf("%s %s: the model sees %v changed, not the one input", c.token, c.attr, changed)
		}
		if len(replaces) > 0 {
			r.model = Replace
		}
		if c.api == "" {
			offline = append(offline, r)
		} else {
			online = append(online, r)
		}
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cli.tfrc"), []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+tfMirror+`"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	requests, err := tfPlan(ctx, t, tf, dir, "offline", offline)
	if err != nil {
		t.Fatal(err)
	}
	if len(requests) > 0 {
		t.Errorf("the compared plan tried the API, so a failed call may have decided it: %v", requests)
	}
	if requests, err = tfPlan(ctx, t, tf, dir, "api", online); err != nil {
		t.Fatal(err)
	}
	for _, r := range online {
		if !tfHas(requests, r.c.api+" "+tfKinds[r.c.token].tfType) {
			t.Errorf("%s %s: planned without %s (requests %v): compare it with the others",
				r.c.token, r.c.attr, r.c.api, requests)
		}
	}

	word := map[Change]string{Update: "update", Replace: "replace"}
	var table strings.Builder
	row := func(token, input, model, plan string) {
		fmt.Fprintf(&table, "%-58s %-62s %-8s %s\n", token, input, model, plan)
	}
	row("token", "input: Terraform attribute = new value", "model", "plan")
	for _, r := range append(offline, online...) {
		if r.control {
			if !reflect.DeepEqual(r.actions, []string{"no-op"}) {
				t.Errorf("%s (%s): the state as configured plans %v, not no-op: %s", r.c.token,
					tfKinds[r.c.token].tfType, r.actions, tfChanged(r.before, r.after))
			}
			continue
		}
		var got string
		switch {
		case reflect.DeepEqual(r.actions, []string{"update"}):
			got = "update"
		case len(r.actions) == 2 && tfHas(r.actions, "delete") && tfHas(r.actions, "create"):
			got = "replace"
		default:
			t.Errorf("%s %s: the plan is %v", r.c.token, r.c.attr, r.actions)
			continue
		}
		top := strings.SplitN(r.c.attr, ".", 2)[0]
		for _, path := range r.replacePaths {
			if len(path) == 0 || path[0] != top {
				t.Errorf("%s %s: replaced for %v", r.c.token, r.c.attr, r.replacePaths)
			}
		}
		if reflect.DeepEqual(r.before[top], r.after[top]) {
			t.Errorf("%s %s: the plan does not change it: %s", r.c.token, r.c.attr, tfChanged(r.before, r.after))
		}
		label := fmt.Sprintf("%s: %s = %s", tfInput(r.c.attr), r.c.attr, tfShow(r.c.to))
		for _, k := range tfSorted(r.c.with) {
			label += fmt.Sprintf(", with %s = %s", k, tfShow(r.c.with[k]))
		}
		if r.c.api != "" {
			row(r.c.token, label, word[r.model], "not coverable without the API: the plan calls "+r.c.api+
				" (offline: "+got+", its answer when the call fails)")
			continue
		}
		row(r.c.token, label, word[r.model], got)
		if got != word[r.model] {
			t.Errorf("%s %s: the model says %s, the provider plans %s (replace_paths %v)",
				r.c.token, label, word[r.model], got, r.replacePaths)
		}
	}
	t.Logf("the model against the provider's plan:\n%s", table.String())
}

// tfConfig is a case's new configuration.
func tfConfig(c tfCase) map[string]any {
	config := tfWith(tfKinds[c.token].config, c.with)
	if c.attr == "" {
		return config
	}
	if block, sub, ok := strings.Cut(c.attr, "."); ok {
		config[block].([]any)[0].(map[string]any)[sub] = c.to
	} else {
		config[c.attr] = c.to
	}
	return config
}

// tfPlan writes a configuration of the resources and a state that has them
// as before their change, plans it in dir/name, and fills in what the plan
// says of each. It returns the API requests the provider tried, as
// "Method resource_type".
func tfPlan(ctx context.Context, t *testing.T, tf, dir, name string, rs []*tfResource) ([]string, error) {
	work := filepath.Join(dir, name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	resources := map[string]map[string]any{}
	var states []any
	for _, r := range rs {
		k := tfKinds[r.c.token]
		if resources[k.tfType] == nil {
			resources[k.tfType] = map[string]any{}
		}
		resources[k.tfType][r.name] = tfConfig(r.c)
		states = append(states, map[string]any{
			"mode": "managed", "type": k.tfType, "name": r.name,
			"provider": `provider["registry.terraform.io/hashicorp/aws"]`,
			"instances": []any{map[string]any{
				"schema_version":       k.schemaVersion,
				"attributes":           tfState(k, tfWith(k.config, r.c.with)),
				"sensitive_attributes": []any{},
			}},
		})
	}
	closed := "http://127.0.0.1:1"
	for file, v := range map[string]any{
		"main.tf.json": map[string]any{
			"terraform": map[string]any{"required_providers": map[string]any{
				"aws": map[string]any{"source": "hashicorp/aws", "version": "5.100.0"}}},
			"provider": map[string]any{"aws": map[string]any{
				"region": "eu-west-1", "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "not-a-secret",
				"skip_credentials_validation": true, "skip_requesting_account_id": true,
				"skip_metadata_api_check": true, "skip_region_validation": true, "max_retries": 1,
				"endpoints": map[string]any{"ec2": closed, "sts": closed, "iam": closed},
			}},
			"resource": resources,
		},
		"terraform.tfstate": map[string]any{
			"version": 4, "terraform_version": "1.0.0", "serial": 1,
			"lineage": "00000000-0000-0000-0000-000000000000", "outputs": map[string]any{},
			"resources": states,
		},
	} {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(work, file), b, 0o644); err != nil {
			return nil, err
		}
	}

	// Nothing from this environment: no AWS profile or credentials, no
	// user's Terraform configuration.
	logPath := filepath.Join(work, "provider.log")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"TF_DATA_DIR=" + filepath.Join(work, ".terraform"),
		"TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "cli.tfrc"),
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
	}
	run := func(extra []string, args ...string) ([]byte, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, tf, args...)
		cmd.Dir, cmd.Env = work, append(env, extra...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("terraform %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		t.Logf("%s: terraform %s: %v", name, args[0], time.Since(start).Round(100*time.Millisecond))
		return stdout.Bytes(), nil
	}
	if _, err := run(nil, "init", "-input=false", "-no-color"); err != nil {
		return nil, err
	}
	if _, err := run([]string{"TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH=" + logPath},
		"plan", "-input=false", "-no-color", "-refresh=false", "-lock=false", "-out=plan"); err != nil {
		return nil, err
	}
	out, err := run(nil, "show", "-json", "-no-color", "plan")
	if err != nil {
		return nil, err
	}
	var plan struct {
		ResourceChanges []struct {
			Name   string
			Change struct {
				Actions      []string
				Before       map[string]any
				After        map[string]any
				ReplacePaths [][]any `json:"replace_paths"`
			}
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(out, &plan); err != nil {
		return nil, err
	}
	byName := map[string]*tfResource{}
	for _, r := range rs {
		byName[r.name] = r
	}
	for _, rc := range plan.ResourceChanges {
		if r := byName[rc.Name]; r != nil {
			r.actions, r.replacePaths = rc.Change.Actions, rc.Change.ReplacePaths
			r.before, r.after = rc.Change.Before, rc.Change.After
		}
	}

	// The log's entries start with a timestamp; a request's entry names
	// the API method and the resource type planned.
	log, err := os.ReadFile(logPath)
	if err != nil {
		return nil, err
	}
	var requests []string
	entries := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT`).Split(string(log), -1)
	method := regexp.MustCompile(`rpc\.method=(\w+)`)
	rtype := regexp.MustCompile(`tf_resource_type=(\w+)`)
	for _, e := range entries {
		if !strings.Contains(e, "HTTP Request Sent") {
			continue
		}
		req := "?"
		if m := method.FindStringSubmatch(e); m != nil {
			req = m[1]
		}
		if m := rtype.FindStringSubmatch(e); m != nil {
			req += " " + m[1]
		}
		if !tfHas(requests, req) {
			requests = append(requests, req)
		}
	}
	sort.Strings(requests)
	return requests, nil
}

// tfInput is the Pulumi input an attribute belongs to: "root_block_device.encrypted"
// is rootBlockDevice.
func tfInput(attr string) string { return tfCamel(strings.SplitN(attr, ".", 2)[0]) }

func tfCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// tfWith copies a configuration (deeply) with some attributes set or removed.
func tfWith(config, with map[string]any) map[string]any {
	out := tfCopy(config).(map[string]any)
	for k, v := range with {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = tfCopy(v)
		}
	}
	return out
}

func tfCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = tfCopy(e)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range v {
			out = append(out, tfCopy(e))
		}
		return out
	}
	return v
}

// tfState is the state of a resource configured so: the configuration
// merged with the computed rest; user data is kept as its SHA-1, as the
// provider keeps it.
func tfState(k tfKind, config map[string]any) map[string]any {
	out := tfCopy(k.state).(map[string]any)
	for key, v := range config {
		if blocks, ok := v.([]any); ok && len(blocks) == 1 {
			if m, ok := blocks[0].(map[string]any); ok {
				merged := map[string]any{}
				if s, ok := out[key].([]any); ok && len(s) == 1 {
					merged = tfCopy(s[0]).(map[string]any)
				}
				for sk, sv := range m {
					merged[sk] = sv
				}
				out[key] = []any{merged}
				continue
			}
		}
		out[key] = tfCopy(v)
	}
	if ud, ok := out["user_data"].(string); ok && k.tfType == "aws_instance" {
		sum := sha1.Sum([]byte(ud))
		out["user_data"] = hex.EncodeToString(sum[:])
	}
	return out
}

// tfPulumi is the Pulumi inputs a configuration stands for: attribute names
// in camelCase, blocks as objects, tags as they are.
func tfPulumi(config map[string]any) resource.PropertyMap {
	var conv func(v any, keepKeys bool) resource.PropertyValue
	conv = func(v any, keepKeys bool) resource.PropertyValue {
		switch v := v.(type) {
		case map[string]any:
			m := resource.PropertyMap{}
			for k, e := range v {
				if !keepKeys {
					k = tfCamel(k)
				}
				m[resource.PropertyKey(k)] = conv(e, false)
			}
			return resource.NewProperty(m)
		case []any:
			if len(v) == 1 {
				if _, ok := v[0].(map[string]any); ok {
					return conv(v[0], false)
				}
			}
			var a []resource.PropertyValue
			for _, e := range v {
				a = append(a, conv(e, false))
			}
			return resource.NewProperty(a)
		case int:
			return resource.NewProperty(float64(v))
		}
		return resource.NewPropertyValue(v)
	}
	out := resource.PropertyMap{}
	for k, v := range config {
		out[resource.PropertyKey(tfCamel(k))] = conv(v, k == "tags")
	}
	return out
}

func tfHas(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// tfChanged names the top-level attributes a planned change alters.
func tfChanged(before, after map[string]any) string {
	var out []string
	for k, b := range before {
		if a, ok := after[k]; !ok || !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s: %v -> %v", k, b, after[k]))
		}
	}
	for k, a := range after {
		if _, ok := before[k]; !ok {
			out = append(out, fmt.Sprintf("%s: (none) -> %v", k, a))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func tfSorted(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tfShow is a short rendering of a configuration value.
func tfShow(v any) string {
	if v == nil {
		return "(unset)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 34 {
		return string(b[:30]) + "..."
	}
	return string(b)
}
