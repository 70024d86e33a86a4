package world

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// recorder is a system that changes nothing on the machine: the AWS rules
// run against the model (in a temporary directory) without root.
type recorder struct {
	mu    sync.Mutex
	calls []string
	macs  int
}

func (r *recorder) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) addVPC(v *VPC) error               { r.note("addVPC %s", v.CIDR); return nil }
func (r *recorder) removeVPC(v *VPC) error            { r.note("removeVPC %s", v.CIDR); return nil }
func (r *recorder) linkIGW(v *VPC, port string) error { r.note("linkIGW %s", v.CIDR); return nil }
func (r *recorder) unlinkIGW(v *VPC) error            { r.note("unlinkIGW %s", v.CIDR); return nil }
func (r *recorder) addGateway(v *VPC, s *Subnet) error {
	r.note("addGateway %s", s.Gateway)
	return nil
}
func (r *recorder) removeGateway(v *VPC, s *Subnet) { r.note("removeGateway %s", s.Gateway) }
func (r *recorder) plug(inst *Instance, s *Subnet, v *VPC) error {
	r.mu.Lock()
	r.macs++
	inst.MAC = fmt.Sprintf("02:00:00:00:01:%02x", r.macs)
	r.mu.Unlock()
	r.note("plug %s", inst.IP)
	return nil
}
func (r *recorder) boot(m *Model, inst *Instance, userData, authorized string) error {
	r.note("boot %s", inst.Name)
	return nil
}
func (r *recorder) stop(h *Host) error   { r.note("stop %s", h.Name); return nil }
func (r *recorder) remove(h *Host) error { r.note("remove %s", h.Name); return nil }
func (r *recorder) apply(m *Model) error { return nil }
func (r *recorder) link(inst *Instance, up bool) error {
	r.note("link %s %v", inst.Name, up)
	return nil
}

func (r *recorder) saw(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// testWorld is an empty world in a temporary directory.
func testWorld(t *testing.T) (*World, *recorder) {
	t.Helper()
	rec := &recorder{}
	w := &World{Prefix: "t", Dir: t.TempDir(), sys: rec}
	if err := w.save(newModel(w.Prefix)); err != nil {
		t.Fatal(err)
	}
	return w, rec
}

func in(kv ...any) resource.PropertyMap {
	m := resource.PropertyMap{}
	for i := 0; i < len(kv); i += 2 {
		m[resource.PropertyKey(kv[i].(string))] = resource.NewPropertyValue(kv[i+1])
	}
	return m
}

// must creates an object or fails the test.
func (w *World) mustCreate(t *testing.T, region, token, name string, inputs resource.PropertyMap) (string, resource.PropertyMap) {
	t.Helper()
	id, out, err := w.Create(region, token, name, inputs)
	if err != nil {
		t.Fatalf("create %s %s: %v", token, name, err)
	}
	return id, out
}

// wantAPIError checks an AWS error's code and a part of its text.
func wantAPIError(t *testing.T, err error, code, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if !strings.HasPrefix(err.Error(), code+": ") || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %q, want %s: ...%s...", err, code, text)
	}
}

// site is one VPC with a subnet, an internet gateway, a route table, a
// security group and a key pair: what an instance needs.
type site struct {
	region, vpc, subnet, igw, table, group, key string
}

func newSite(t *testing.T, w *World, region, cidr, subnetCIDR string, subnetInputs ...any) site {
	t.Helper()
	s := site{region: region}
	s.vpc, _ = w.mustCreate(t, region, awsmodel.VPC, "vpc", in("cidrBlock", cidr))
	s.subnet, _ = w.mustCreate(t, region, awsmodel.Subnet, "subnet", in(append([]any{"vpcId", s.vpc, "cidrBlock", subnetCIDR}, subnetInputs...)...))
	s.igw, _ = w.mustCreate(t, region, awsmodel.InternetGateway, "igw", in("vpcId", s.vpc))
	s.table, _ = w.mustCreate(t, region, awsmodel.RouteTable, "rt", in("vpcId", s.vpc))
	s.group, _ = w.mustCreate(t, region, awsmodel.SecurityGroup, "sg", in("vpcId", s.vpc, "name", "sg"))
	// Sites of one region share its key pair.
	for id, k := range load(t, w).Keys {
		if k.KeyName == "key-"+region {
			s.key = id
		}
	}
	if s.key == "" {
		s.key, _ = w.mustCreate(t, region, awsmodel.KeyPair, "key", in("keyName", "key-"+region, "publicKey", "ssh-ed25519 AAAA"))
	}
	return s
}

// instanceInputs are the inputs of an instance of the site.
func (s site) instanceInputs(ip string, kv ...any) resource.PropertyMap {
	m := in("subnetId", s.subnet, "privateIp", ip, "keyName", "key-"+s.region, "instanceType", "t3.micro",
		"vpcSecurityGroupIds", []any{s.group})
	for k, v := range in(kv...) {
		m[k] = v
	}
	return m
}

func load(t *testing.T, w *World) *Model {
	t.Helper()
	m, err := w.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
