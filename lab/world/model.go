// Package world is the lab's emulation of AWS regions on one Linux machine:
// network namespaces, bridges, nft rules and hosts, with the model that
// describes them kept in a JSON file under the lab's state directory, so
// that every process (each `pulumi` run starts a new provider plugin) sees
// the same world. Operations take an exclusive lock on the file.
//
//   - a VPC is a Linux bridge inside a "VPC router" namespace that holds the
//     subnets' gateway addresses; an internet gateway is a link from that
//     namespace to a bridge namespace playing the internet;
//   - an instance is a namespace with one interface (its fixed private IP,
//     the subnet's gateway as default route) and a host in it that runs sshd;
//   - an Elastic IP is 1:1 NAT on the VPC router (documentation ranges);
//   - a route table is applied at layer 2 on the VPC bridge: frames sent to
//     the gateway are handed straight to the target network interface, so
//     the VPC router never shows up in traceroute, as on AWS;
//   - security groups (stateful ingress) and the source/destination check
//     are nft rules on the instance's interface (the kernel here has no
//     bridge conntrack).
package world

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// Public addresses of the lab's own hosts on the emulated internet. Elastic
// IPs come from the same documentation ranges.
const (
	OperatorIP = "198.51.100.250"
	StrangerIP = "198.51.100.251"
	RepoIP     = "198.51.100.252"
)

var publicRanges = []string{"198.51.100.0/24", "203.0.113.0/24"}

// World is a handle on one lab: its prefix and state directory.
type World struct {
	// Prefix starts the name of every namespace of the lab.
	Prefix string
	// Dir is the lab's state directory.
	Dir string
	// sys changes the machine; nil is the machine itself (tests set a
	// recorder).
	sys system
}

var prefixRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`)

// New returns the world of a prefix, in dir (default /run/vpclink-lab/PREFIX).
func New(prefix, dir string) (*World, error) {
	if !prefixRe.MatchString(prefix) {
		return nil, fmt.Errorf("lab prefix %q: want 1-8 lowercase letters and digits", prefix)
	}
	if dir == "" {
		dir = filepath.Join("/run/vpclink-lab", prefix)
	}
	return &World{Prefix: prefix, Dir: dir}, nil
}

// NS returns the namespace name of a lab object.
func (w *World) NS(name string) string { return w.Prefix + "-" + name }

// Model is the emulated world, as persisted. It holds no secrets: user data
// is kept only as the hosts' own files.
type Model struct {
	Prefix string `json:"prefix"`
	// Seq numbers the links the lab creates.
	Seq       int                  `json:"seq"`
	VPCs      map[string]*VPC      `json:"vpcs"`
	IGWs      map[string]*IGW      `json:"igws"`
	Subnets   map[string]*Subnet   `json:"subnets"`
	Tables    map[string]*Table    `json:"routeTables"`
	Routes    map[string]*Route    `json:"routes"`
	Assocs    map[string]*Assoc    `json:"associations"`
	Groups    map[string]*Group    `json:"securityGroups"`
	Rules     map[string]*Rule     `json:"rules"`
	Keys      map[string]*Key      `json:"keyPairs"`
	Instances map[string]*Instance `json:"instances"`
	EIPs      map[string]*EIP      `json:"eips"`
	// IAM is global: by name (role policies by role:name).
	Roles        map[string]*Role       `json:"roles,omitempty"`
	RolePolicies map[string]*RolePolicy `json:"rolePolicies,omitempty"`
	Profiles     map[string]*Profile    `json:"instanceProfiles,omitempty"`
	Faults       map[string]bool        `json:"faults,omitempty"`
	Extra        map[string]string      `json:"extra,omitempty"`
}

// Regional is what every AWS object has.
type Regional struct {
	ID     string `json:"id"`
	Region string `json:"region"`
	Name   string `json:"name"`
}

func (r Regional) region() string { return r.Region }

// VPC is a VPC: a router namespace with a bridge.
type VPC struct {
	Regional
	CIDR string `json:"cidr"`
	NS   string `json:"ns"`
	// IGW is the attached internet gateway's id, "" when none.
	IGW string `json:"igw"`
}

// IGW is an internet gateway, attached to VPC ("" when detached).
type IGW struct {
	Regional
	VPC  string `json:"vpc"`
	Port string `json:"port"`
}

// Subnet is a subnet of a VPC; the router answers on its first address.
type Subnet struct {
	Regional
	VPC     string `json:"vpc"`
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway"`
	Bits    int    `json:"bits"`
	// Zone is the subnet's availability zone ("" in worlds saved before
	// zones: the region's default zone).
	Zone string `json:"zone,omitempty"`
}

// Table is a route table.
type Table struct {
	Regional
	VPC string `json:"vpc"`
}

// Route is one route of a table: to an internet gateway or an interface.
type Route struct {
	Regional
	Table string `json:"table"`
	Dest  string `json:"dest"`
	IGW   string `json:"igw,omitempty"`
	ENI   string `json:"eni,omitempty"`
}

// Assoc associates a subnet with a route table.
type Assoc struct {
	Regional
	Subnet string `json:"subnet"`
	Table  string `json:"table"`
}

// Group is a security group.
type Group struct {
	Regional
	VPC string `json:"vpc"`
}

// Rule is one rule of a security group (stateful; egress is recorded but
// not enforced: the program only creates allow-all egress).
type Rule struct {
	Regional
	Group    string `json:"group"`
	Egress   bool   `json:"egress"`
	Protocol string `json:"protocol"`
	From     int    `json:"from"`
	To       int    `json:"to"`
	CIDR     string `json:"cidr"`
}

// Key is a key pair.
type Key struct {
	Regional
	KeyName   string `json:"keyName"`
	PublicKey string `json:"publicKey"`
}

// Instance is an EC2 instance: a host in its own namespace.
type Instance struct {
	Regional
	Subnet       string   `json:"subnet"`
	IP           string   `json:"ip"`
	MAC          string   `json:"mac"`
	Port         string   `json:"port"`
	ENI          string   `json:"eni"`
	Groups       []string `json:"groups"`
	SrcDstCheck  bool     `json:"srcDstCheck"`
	InstanceType string   `json:"instanceType"`
	KeyName      string   `json:"keyName"`
	// AMI is the image the instance was launched from.
	AMI string `json:"ami,omitempty"`
	// Tags are the instance's tags.
	Tags map[string]string `json:"tags,omitempty"`
	// State is pending while the host is being built, then running.
	State string `json:"state"`
	// Host is how to reach the host's processes and files.
	Host Host `json:"host"`
	// Profile is the IAM instance profile's name ("" none).
	Profile string `json:"iamInstanceProfile,omitempty"`
	// Metadata are the IMDS settings.
	Metadata MetadataOptions `json:"metadataOptions"`
}

// EIP is an Elastic IP, associated with Instance ("" when not).
type EIP struct {
	Regional
	PublicIP string `json:"publicIp"`
	Instance string `json:"instance"`
}

func newModel(prefix string) *Model {
	m := &Model{Prefix: prefix}
	m.init()
	return m
}

func (m *Model) init() {
	if m.VPCs == nil {
		m.VPCs = map[string]*VPC{}
	}
	if m.IGWs == nil {
		m.IGWs = map[string]*IGW{}
	}
	if m.Subnets == nil {
		m.Subnets = map[string]*Subnet{}
	}
	if m.Tables == nil {
		m.Tables = map[string]*Table{}
	}
	if m.Routes == nil {
		m.Routes = map[string]*Route{}
	}
	if m.Assocs == nil {
		m.Assocs = map[string]*Assoc{}
	}
	if m.Groups == nil {
		m.Groups = map[string]*Group{}
	}
	if m.Rules == nil {
		m.Rules = map[string]*Rule{}
	}
	if m.Keys == nil {
		m.Keys = map[string]*Key{}
	}
	if m.Instances == nil {
		m.Instances = map[string]*Instance{}
	}
	if m.EIPs == nil {
		m.EIPs = map[string]*EIP{}
	}
	if m.Roles == nil {
		m.Roles = map[string]*Role{}
	}
	if m.RolePolicies == nil {
		m.RolePolicies = map[string]*RolePolicy{}
	}
	if m.Profiles == nil {
		m.Profiles = map[string]*Profile{}
	}
	if m.Faults == nil {
		m.Faults = map[string]bool{}
	}
	if m.Extra == nil {
		m.Extra = map[string]string{}
	}
}

// Count is the number of AWS objects in the world.
func (m *Model) Count() int { return len(m.IDs()) }

// SortedInstances returns the instances by name.
func (m *Model) SortedInstances() []*Instance {
	var out []*Instance
	for _, i := range m.Instances {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// InstanceByName returns the instance with a resource name, or nil.
func (m *Model) InstanceByName(name string) *Instance {
	for _, i := range m.Instances {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// InstanceByPublicIP returns the instance an Elastic IP points at, or nil.
func (m *Model) InstanceByPublicIP(ip string) *Instance {
	for _, e := range m.EIPs {
		if e.PublicIP == ip {
			return m.Instances[e.Instance]
		}
	}
	return nil
}

// PublicIPOf returns the Elastic IP of an instance, or "".
func (m *Model) PublicIPOf(inst *Instance) string {
	for _, e := range m.EIPs {
		if e.Instance == inst.ID {
			return e.PublicIP
		}
	}
	return ""
}

func (m *Model) instanceByENI(eni string) *Instance {
	for _, i := range m.Instances {
		if i.ENI == eni {
			return i
		}
	}
	return nil
}

func (w *World) modelPath() string { return filepath.Join(w.Dir, "world.json") }

// NewID returns a fresh AWS-style id: prefix, dash, 17 hex digits.
func NewID(prefix string) string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + "-" + hex.EncodeToString(b)[:17]
}

// Exists reports whether the lab's state directory exists.
func (w *World) Exists() bool {
	_, err := os.Stat(w.modelPath())
	return err == nil
}

// Load reads the model (without the lock: a snapshot for checks).
func (w *World) Load() (*Model, error) {
	b, err := os.ReadFile(w.modelPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no lab %q is up (%s missing): run `scripts/lab up` first", w.Prefix, w.modelPath())
	}
	if err != nil {
		return nil, err
	}
	m := &Model{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("lab %s: %s: %w", w.Prefix, w.modelPath(), err)
	}
	m.init()
	return m, nil
}

func (w *World) save(m *Model) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := w.modelPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, w.modelPath())
}

// Update runs fn on the model under the lab's exclusive lock and saves the
// model when fn succeeds.
func (w *World) Update(fn func(m *Model) error) error {
	unlock, err := w.lock()
	if err != nil {
		return err
	}
	defer unlock()
	m, err := w.Load()
	if err != nil {
		return err
	}
	if err := fn(m); err != nil {
		// Keep what was done before the failure: the system changed too.
		if serr := w.save(m); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	return w.save(m)
}

func (w *World) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(w.Dir, "world.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab %s is not up: %w", w.Prefix, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// objects returns the ids of the world's objects of one resource type.
func (m *Model) objects(token string) []string {
	if k := kinds[token]; k != nil {
		return k.ids(m)
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Has reports whether the world holds an object of a type.
func (m *Model) Has(token, id string) bool {
	for _, x := range m.objects(token) {
		if x == id {
			return true
		}
	}
	return false
}

// IDs returns the ids of every AWS object in the world.
func (m *Model) IDs() map[string]bool {
	ids := map[string]bool{}
	for token := range awsmodel.Kinds {
		for _, id := range m.objects(token) {
			ids[id] = true
		}
	}
	return ids
}
