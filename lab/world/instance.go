package world

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// instanceKind: an EC2 instance is a host in its own namespace, plugged
// into its VPC's bridge. RunInstances reserves it under the lock; its host
// boots after (hosts of other instances come up at the same time, as on
// AWS).
type instanceKind struct{}

func (instanceKind) ids(m *Model) []string { return keys(m.Instances) }

func (instanceKind) create(o *op, r Regional, in resource.PropertyMap) error {
	if _, err := reserveInstance(o, r, in); err != nil {
		return err
	}
	o.boot, o.userData = r.ID, text(in, "userData")
	return nil
}

func reserveInstance(o *op, r Regional, in resource.PropertyMap) (*Instance, error) {
	m := o.m
	s := m.Subnets[text(in, "subnetId")]
	if s == nil || s.Region != r.Region {
		return nil, notFound("subnet", text(in, "subnetId"))
	}
	v := m.VPCs[s.VPC]
	typ := text(in, "instanceType")
	if err := awsmodel.ArchitectureMismatch(typ, text(in, "ami")); err != nil {
		return nil, err
	}
	if !awsmodel.Offers(s.zone(), typ) {
		return nil, awsmodel.UnsupportedInZone(s.zone(), typ)
	}
	ip := text(in, "privateIp")
	addr, err := netip.ParseAddr(ip)
	p := netip.MustParsePrefix(s.CIDR)
	if err != nil || !p.Contains(addr) {
		return nil, apiError("InvalidParameterValue", "Address %s does not fall within the subnet's address range", ip)
	}
	for _, x := range m.Instances {
		if x.Subnet == s.ID && x.IP == ip {
			return nil, apiError("InvalidIPAddress.InUse", "Address %s is in use.", ip)
		}
	}
	var k *Key
	for _, key := range m.Keys {
		if key.KeyName == text(in, "keyName") && key.Region == r.Region {
			k = key
		}
	}
	if k == nil {
		return nil, apiError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", text(in, "keyName"))
	}
	groups := list(in, "vpcSecurityGroupIds")
	for _, g := range groups {
		if grp := m.Groups[g]; grp == nil || grp.VPC != v.ID {
			return nil, apiError("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", g, v.ID)
		}
	}
	md, err := metadataOptions(in)
	if err != nil {
		return nil, err
	}
	profile := text(in, "iamInstanceProfile")
	if err := checkProfile(m, profile); err != nil {
		return nil, err
	}
	m.Seq++
	inst := &Instance{
		Regional: r, Subnet: s.ID, IP: ip, Port: fmt.Sprintf("h%d", m.Seq),
		ENI:    "eni-" + strings.TrimPrefix(r.ID, "i-"),
		Groups: groups,
		// AWS's default is on; only an explicit false turns it off.
		SrcDstCheck:  text(in, "sourceDestCheck") != "false",
		InstanceType: typ, KeyName: k.KeyName, State: "pending",
		AMI: text(in, "ami"), Tags: tags(in),
		Profile: profile, Metadata: md,
	}
	inst.Host = Host{
		Name: r.Name, NetNS: o.w.NS(fmt.Sprintf("i%d", m.Seq)), PrivateIP: ip,
		Dir: filepath.Join(o.w.Dir, "hosts", r.ID),
	}
	m.Instances[r.ID] = inst
	if err := o.sys.plug(inst, s, v); err != nil {
		return inst, err
	}
	return inst, o.sys.apply(m)
}

func (instanceKind) update(o *op, id string, _, news resource.PropertyMap) error {
	inst := o.m.Instances[id]
	if inst == nil {
		return notFound("instance", id)
	}
	for _, k := range o.changed {
		for _, s := range awsmodel.StopsInstance {
			if k == s {
				o.restart = id
			}
		}
	}
	md, err := metadataOptions(news)
	if err != nil {
		return err
	}
	profile := text(news, "iamInstanceProfile")
	if err := checkProfile(o.m, profile); err != nil {
		return err
	}
	inst.Profile, inst.Metadata = profile, md
	inst.SrcDstCheck = text(news, "sourceDestCheck") != "false"
	inst.Groups = list(news, "vpcSecurityGroupIds")
	inst.InstanceType = text(news, "instanceType")
	inst.Tags = tags(news)
	return nil
}

func (instanceKind) delete(o *op, id string) error {
	inst := o.m.Instances[id]
	o.removed = &inst.Host
	// The Elastic IP stays allocated, no longer associated.
	for _, e := range o.m.EIPs {
		if e.Instance == id {
			e.Instance = ""
		}
	}
	delete(o.m.Instances, id)
	return nil
}

// bootInstance starts the host of a reserved instance, outside the lock:
// hosts of other instances come up at the same time, as on AWS.
func (w *World) bootInstance(id, userData string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.Instances[id]
	var authorized string
	for _, k := range m.Keys {
		if k.KeyName == inst.KeyName && k.Region == inst.Region {
			authorized = k.PublicKey
		}
	}
	sys := w.system()
	if err := sys.boot(m, inst, userData, authorized); err != nil {
		return fmt.Errorf("vpclink lab: instance %s: %w", inst.Name, err)
	}
	return w.Update(func(m *Model) error {
		if i := m.Instances[id]; i != nil {
			i.State = "running"
		}
		return sys.apply(m)
	})
}

// restartInstance stops and starts an instance, as the provider does to
// change its type or user data: every process of the host ends.
func (w *World) restartInstance(id string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.Instances[id]
	if err := w.system().stop(&inst.Host); err != nil {
		return err
	}
	return w.bootInstance(id, "")
}

// LoginUser is the login user of the lab's image (the cloud image's
// default user): VPCLINK_LAB_LOGIN, default ubuntu.
func LoginUser() string {
	if u := os.Getenv("VPCLINK_LAB_LOGIN"); u != "" {
		return u
	}
	return "ubuntu"
}

// MetadataOptions are an instance's IMDS settings.
type MetadataOptions struct {
	// HTTPTokens is "optional" (IMDSv1 and v2) or "required" (v2 only).
	HTTPTokens string `json:"httpTokens"`
	// HTTPEndpoint is "enabled" or "disabled".
	HTTPEndpoint string `json:"httpEndpoint"`
	// HopLimit is recorded, not enforced: every lab caller is one hop away.
	HopLimit int `json:"httpPutResponseHopLimit"`
}

// metadataOptions reads the metadataOptions input with EC2's defaults
// (an image that does not ask for IMDSv2: tokens optional).
func metadataOptions(in resource.PropertyMap) (MetadataOptions, error) {
	md := MetadataOptions{HTTPTokens: "optional", HTTPEndpoint: "enabled", HopLimit: 1}
	v := awsmodel.Unwrap(in["metadataOptions"])
	if !v.IsObject() {
		return md, nil
	}
	o := v.ObjectValue()
	for k := range o {
		switch k {
		case "httpTokens", "httpEndpoint", "httpPutResponseHopLimit":
		default:
			return md, fmt.Errorf("vpclink lab: property \"metadataOptions.%s\" of %s is not emulated", k, awsmodel.Instance)
		}
	}
	if t := awsmodel.Text(o["httpTokens"]); t != "" {
		if t != "optional" && t != "required" {
			return md, apiError("InvalidParameterValue", "Value (%s) for parameter httpTokens is invalid. Valid values are: optional, required", t)
		}
		md.HTTPTokens = t
	}
	if e := awsmodel.Text(o["httpEndpoint"]); e != "" {
		if e != "enabled" && e != "disabled" {
			return md, apiError("InvalidParameterValue", "Value (%s) for parameter httpEndpoint is invalid. Valid values are: enabled, disabled", e)
		}
		md.HTTPEndpoint = e
	}
	if h := awsmodel.Text(o["httpPutResponseHopLimit"]); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 1 || n > 64 {
			return md, apiError("InvalidParameterValue", "Value (%s) for parameter httpPutResponseHopLimit is invalid. Must be an integer between 1 and 64", h)
		}
		md.HopLimit = n
	}
	return md, nil
}

// checkProfile is RunInstances' and AssociateIamInstanceProfile's check of
// the profile name ("" none).
func checkProfile(m *Model, name string) error {
	if name == "" || m.Profiles[name] != nil {
		return nil
	}
	return apiError("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", name)
}

// tags are the string tags of a resource's inputs.
func tags(in resource.PropertyMap) map[string]string {
	v := awsmodel.Unwrap(in["tags"])
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for k, t := range v.ObjectValue() {
		out[string(k)] = awsmodel.Text(t)
	}
	return out
}
