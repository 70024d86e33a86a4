// Package mockaws is a Pulumi mock resource monitor that answers like AWS,
// random and pulumi-command would, and records every registration and
// invoke. The unit tests assert on its records; the local lab adds a hook
// that builds the emulated network for each registration.
package mockaws

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// Registration is one resource registration as the engine received it.
type Registration struct {
	Type, Name string
	// Parent is the URN of the parent resource ("" for the stack).
	Parent string
	// Inputs are the resolved inputs; secret values stay wrapped.
	Inputs resource.PropertyMap
	// Outputs are what the mock returned.
	Outputs resource.PropertyMap
	// ID is the physical id the mock assigned.
	ID string
	// Provider is the provider reference ("urn::id"), "" for the default.
	Provider string
	// Custom is false for component resources.
	Custom bool
	// Dependencies are the URNs the resource depends on.
	Dependencies []string
	// AdditionalSecretOutputs and DeleteBeforeReplace are resource options.
	AdditionalSecretOutputs []string
	DeleteBeforeReplace     bool
	IgnoreChanges           []string
	// ReplacementTrigger is the resource option (null when not set): the
	// engine replaces the resource when it differs from the recorded one.
	ReplacementTrigger resource.PropertyValue
	// Aliases are the resource's aliases: full URNs, or for an alias spec
	// "<name> under <parent URN>" (the SDK sends whichever the monitor
	// supports).
	Aliases []string
}

// Call is one invoke.
type Call struct {
	Token    string
	Args     resource.PropertyMap
	Provider string
}

// Hook lets the lab act on a registration before its outputs are returned;
// it may add or replace outputs. Returning an error fails the registration.
type Hook func(r *Registration) error

// Monitor implements pulumi.MockResourceMonitor.
type Monitor struct {
	// Random is the source of random bytes; nil means bytes derived from the
	// resource name (stable, as a real random resource is across runs).
	Random io.Reader
	// Hook, when set, runs for each registration.
	Hook Hook
	// PublicIP hands out Elastic IPs by resource name; nil picks addresses
	// in 203.0.113.0/24 and 198.51.100.0/24 from a hash of the name.
	PublicIP func(name string) string
	// Architectures answers getInstanceType; default x86_64 for every type
	// except Graviton families (a "g" after the digit).
	Architectures func(instanceType string) []string

	mu            sync.Mutex
	registrations []*Registration
	calls         []Call
	eips          map[string]string
}

var _ pulumi.MockResourceMonitor = (*Monitor)(nil)

// Registrations returns a copy of every registration so far.
func (m *Monitor) Registrations() []*Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Registration(nil), m.registrations...)
}

// Calls returns a copy of every invoke so far.
func (m *Monitor) Calls() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// ByType returns the registrations of one type token.
func (m *Monitor) ByType(token string) []*Registration {
	var out []*Registration
	for _, r := range m.Registrations() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the registration of a type and name, or nil.
func (m *Monitor) Find(token, name string) *Registration {
	for _, r := range m.ByType(token) {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// FindName returns the registration of any type named name, or nil.
func (m *Monitor) FindName(name string) *Registration {
	for _, r := range m.Registrations() {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ByURN returns the registration a URN names, or nil.
func (m *Monitor) ByURN(urn string) *Registration {
	u := resource.URN(urn)
	if !u.IsValid() {
		return nil
	}
	return m.Find(string(u.Type()), u.Name())
}

// ProviderOf returns the registration of the provider a resource uses, or
// nil for the default provider.
func (m *Monitor) ProviderOf(r *Registration) *Registration {
	i := strings.LastIndex(r.Provider, "::")
	if i < 0 {
		return nil
	}
	id := r.Provider[i+2:]
	for _, p := range m.Registrations() {
		if p.ID == id && strings.HasPrefix(p.Type, "pulumi:providers:") {
			return p
		}
	}
	return nil
}

// NewResource implements pulumi.MockResourceMonitor.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := &Registration{
		Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Provider: args.Provider, Custom: args.Custom,
	}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		r.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.Aliases = append(r.Aliases, rpc.GetAliasURNs()...)
		for _, a := range rpc.GetAliases() {
			if u := a.GetUrn(); u != "" {
				r.Aliases = append(r.Aliases, u)
			} else if spec := a.GetSpec(); spec != nil {
				r.Aliases = append(r.Aliases, spec.GetName()+" under "+spec.GetParentUrn())
			}
		}
		if rt := rpc.GetReplacementTrigger(); rt != nil {
			v, err := plugin.UnmarshalPropertyValue("replacementTrigger", rt, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
			if err != nil {
				return "", nil, fmt.Errorf("%s %s: replacementTrigger: %w", args.TypeToken, args.Name, err)
			}
			if v != nil {
				r.ReplacementTrigger = *v
			}
		}
	}
	r.ID = awsmodel.StableID(args.TypeToken, args.Name)
	out, err := m.outputs(r)
	if err != nil {
		return "", nil, err
	}
	r.Outputs = out
	if m.Hook != nil {
		if err := m.Hook(r); err != nil {
			return "", nil, err
		}
	}
	m.mu.Lock()
	m.registrations = append(m.registrations, r)
	m.mu.Unlock()
	return r.ID, r.Outputs, nil
}

// Call implements pulumi.MockResourceMonitor.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, Call{Token: args.Token, Args: args.Args, Provider: args.Provider})
	m.mu.Unlock()
	switch args.Token {
	case awsmodel.GetInstanceType:
		t := args.Args["instanceType"].StringValue()
		if m.Architectures == nil {
			return awsmodel.InstanceTypeResult(t), nil
		}
		var vals []resource.PropertyValue
		for _, a := range m.Architectures(t) {
			vals = append(vals, resource.NewProperty(a))
		}
		return resource.PropertyMap{"instanceType": resource.NewProperty(t), "supportedArchitectures": resource.NewProperty(vals)}, nil
	case awsmodel.GetAmi:
		return awsmodel.AmiResult(m.regionOfRef(args.Provider), args.Args), nil
	case awsmodel.GetInstanceTypeOfferings:
		return awsmodel.InstanceTypeOfferingsResult(m.regionOfRef(args.Provider), args.Args)
	case awsmodel.GetAvailabilityZones:
		return awsmodel.AvailabilityZonesResult(m.regionOfRef(args.Provider), args.Args)
	}
	return resource.PropertyMap{}, nil
}

// regionOfRef is the region of the provider a reference ("urn::id") names,
// "" for the default provider.
func (m *Monitor) regionOfRef(ref string) string {
	if p := m.ProviderOf(&Registration{Provider: ref}); p != nil {
		return p.Input("region")
	}
	return ""
}

func (m *Monitor) publicIP(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eips == nil {
		m.eips = map[string]string{}
	}
	if ip, ok := m.eips[name]; ok {
		return ip
	}
	if m.PublicIP != nil {
		m.eips[name] = m.PublicIP(name)
		return m.eips[name]
	}
	// Stable per name whatever the (concurrent) registration order, in the
	// documentation ranges: 203.0.113.10-249, then 198.51.100.10-249.
	taken := map[string]bool{}
	for _, ip := range m.eips {
		taken[ip] = true
	}
	sum := sha256.Sum256([]byte(name))
	start := int(sum[0])<<8 | int(sum[1])
	for i := 0; i < 480; i++ {
		n := (start + i) % 480
		ip := fmt.Sprintf("203.0.113.%d", 10+n)
		if n >= 240 {
			ip = fmt.Sprintf("198.51.100.%d", 10+n-240)
		}
		if !taken[ip] {
			m.eips[name] = ip
			return ip
		}
	}
	panic("mockaws: out of public addresses")
}

func (m *Monitor) randomBytes(name string, n int) ([]byte, error) {
	b := make([]byte, n)
	if m.Random != nil {
		_, err := io.ReadFull(m.Random, b)
		return b, err
	}
	for i := 0; i < n; i += sha256.Size {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, i)))
		copy(b[i:], sum[:])
	}
	return b, nil
}

// outputs returns inputs plus what the provider would compute.
func (m *Monitor) outputs(r *Registration) (resource.PropertyMap, error) {
	var ip string
	if r.Type == awsmodel.EIP {
		ip = m.publicIP(r.Name)
	}
	out := awsmodel.Outputs(r.Type, r.ID, r.Name, r.Inputs, "", ip)
	switch r.Type {
	case "random:index/randomBytes:RandomBytes":
		n := int(r.Inputs["length"].NumberValue())
		b, err := m.randomBytes(r.Name, n)
		if err != nil {
			return nil, err
		}
		out["hex"] = resource.MakeSecret(resource.NewProperty(hex.EncodeToString(b)))
		out["base64"] = resource.MakeSecret(resource.NewProperty(base64.StdEncoding.EncodeToString(b)))
	case "random:index/randomPassword:RandomPassword":
		// Only the alphabet the program uses for key material: hex digits.
		n := int(r.Inputs["length"].NumberValue())
		b, err := m.randomBytes(r.Name, (n+1)/2)
		if err != nil {
			return nil, err
		}
		out["result"] = resource.MakeSecret(resource.NewProperty(hex.EncodeToString(b)[:n]))
	case "command:remote:Command":
		out["stdout"] = resource.NewProperty("")
		if strings.HasSuffix(r.Name, "-identity") {
			// A TLS identity step prints its certificate's fingerprint.
			sum := sha256.Sum256([]byte(r.Name))
			fp := make([]string, len(sum))
			for i, b := range sum {
				fp[i] = fmt.Sprintf("%02X", b)
			}
			out["stdout"] = resource.NewProperty(strings.Join(fp, ":"))
		}
		out["stderr"] = resource.NewProperty("")
	}
	return out, nil
}

// Unwrap returns v without its secret wrappers.
func Unwrap(v resource.PropertyValue) resource.PropertyValue { return awsmodel.Unwrap(v) }

// Text renders a scalar property as the program wrote it ("" for others),
// secrets unwrapped: strings as they are, numbers as integers when whole,
// booleans as true/false.
func Text(v resource.PropertyValue) string { return awsmodel.Text(v) }

// Input returns the scalar input k as text (see Text).
func (r *Registration) Input(k string) string { return Text(r.Inputs[resource.PropertyKey(k)]) }

// InputObject returns the object input k, secrets unwrapped; nil if absent.
func (r *Registration) InputObject(k string) resource.PropertyMap {
	if v := Unwrap(r.Inputs[resource.PropertyKey(k)]); v.IsObject() {
		return v.ObjectValue()
	}
	return nil
}

// InputList returns the string elements of the array input k.
func (r *Registration) InputList(k string) []string {
	var out []string
	if v := Unwrap(r.Inputs[resource.PropertyKey(k)]); v.IsArray() {
		for _, e := range v.ArrayValue() {
			if e = Unwrap(e); e.IsString() {
				out = append(out, e.StringValue())
			}
		}
	}
	return out
}
