// Package random is the lab's stand-in for the pulumi-random provider
// plugin (pulumi-resource-random): it speaks the ordinary Pulumi provider
// protocol, reports the version the program's SDK asks for, and implements
// exactly what the vpclink program uses, the resource
// random:index/randomPassword:RandomPassword (see components/hexsecret) under
// an explicit provider without settings. Any other resource type, function,
// input property or provider setting is refused by name.
//
// What it answers is checked, in this package's tests, against the real
// plugin: a recorded gRPC exchange of pulumi-random 4.16/4.17 (Check's inputs
// are the news unchanged; Create answers id "none" and the inputs with their
// defaults, "id", "__meta" schema_version 3, and "result" and "bcryptHash"
// as secrets) and the package schema of pulumi-random 4.21.1 (which inputs
// exist, their defaults and validation), both kept read-only in
// ../shared/upstream-data. It needs no lab environment: it keeps no state
// and contacts nothing; the randomness comes from crypto/rand.
package random

import (
	"context"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

// Version is the pulumi-random version the program's SDK
// (pulumi-random/sdk/v4 v4.21.2) asks for.
const Version = "4.21.2"

// PasswordType is the one resource type the stand-in implements.
const PasswordType = "random:index/randomPassword:RandomPassword"

// ID is the id of every RandomPassword: a constant, so that the password
// never appears in the state in plain text.
const ID = "none"

// Meta is the "__meta" output the real (bridged) provider adds: the version
// of the Terraform resource's state schema.
const Meta = `{"schema_version":"3"}`

// InputProperties are the inputs of RandomPassword, exactly the
// inputProperties of the 4.21.1 schema; any other input is refused.
var InputProperties = map[string]bool{
	"keepers": true, "length": true,
	"lower": true, "upper": true, "numeric": true, "number": true, "special": true,
	"minLower": true, "minUpper": true, "minNumeric": true, "minSpecial": true,
	"overrideSpecial": true,
}

// SecretOutputs are the outputs the stand-in always answers as secrets.
var SecretOutputs = []string{"bcryptHash", "result"}

// Provider implements the provider protocol for RandomPassword.
type Provider struct {
	skeleton.Base
}

// New returns the stand-in. The random provider has no settings (the program
// creates it with empty ProviderArgs), so any setting but "version" is
// refused.
func New() *Provider {
	return &Provider{Base: skeleton.Base{Name: "random", Version: Version}}
}

// plainOptions decode properties with secrets unwrapped (unknowns kept):
// validation and comparison look at values, not at their secrecy.
var plainOptions = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: false, SkipNulls: true}

func plain(s *structpb.Struct) (resource.PropertyMap, error) {
	m, err := plugin.UnmarshalProperties(s, plainOptions)
	if m == nil {
		m = resource.PropertyMap{}
	}
	return m, err
}

// checkType refuses any resource type but RandomPassword.
func checkType(urn string) error {
	if t := skeleton.TypeOf(urn); t != PasswordType {
		return skeleton.NotEmulated("resource type", t)
	}
	return nil
}

// Check validates the inputs as the real provider does and answers them
// unchanged: the real provider applies its defaults only to the outputs
// (its Check answered the news as they came, without "numeric").
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := plain(req.GetNews())
	if err != nil {
		return nil, err
	}
	failures := skeleton.Unknown(PasswordType, news, InputProperties)
	failures = append(failures, validate(news)...)
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// Diff compares the inputs after defaults (so that leaving out a default,
// or moving from the deprecated "number" to "numeric", changes nothing):
// every change replaces, keepers included.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := plain(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = plain(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := plain(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, k := range req.GetIgnoreChanges() {
		key := resource.PropertyKey(k)
		if v, ok := olds[key]; ok {
			news[key] = v
		} else {
			delete(news, key)
		}
	}
	olds, news = withDefaults(inputsOnly(olds)), withDefaults(inputsOnly(news))
	changed := diff(olds, news)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	if len(changed) == 0 {
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	resp.Diffs, resp.Replaces = changed, changed
	for _, k := range changed {
		kind := pulumirpc.PropertyDiff_UPDATE_REPLACE
		if _, ok := olds[resource.PropertyKey(k)]; !ok {
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		} else if _, ok := news[resource.PropertyKey(k)]; !ok {
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		}
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// diff returns the keys whose values differ, sorted; olds and news are
// inputs with their defaults. An unknown new value counts as a change.
func diff(o, n resource.PropertyMap) []string {
	keys := map[resource.PropertyKey]bool{}
	for k := range o {
		keys[k] = true
	}
	for k := range n {
		keys[k] = true
	}
	var changed []string
	for k := range keys {
		ov, ook := o[k]
		nv, nok := n[k]
		if ook != nok || nv.ContainsUnknowns() || !ov.DeepEquals(nv) {
			changed = append(changed, string(k))
		}
	}
	sort.Strings(changed)
	return changed
}

// inputsOnly keeps the input properties of m (old outputs also hold
// result, bcryptHash, id and __meta).
func inputsOnly(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if InputProperties[string(k)] && !v.IsNull() {
			out[k] = v
		}
	}
	return out
}

// Create generates the password. In a preview, result and bcryptHash are
// unknown and the id is empty.
func (p *Provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	in, err := skeleton.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	out := withDefaults(in)
	out["__meta"] = resource.NewProperty(Meta)
	if req.GetPreview() {
		unknown := resource.MakeComputed(resource.NewProperty(""))
		out["id"], out["result"], out["bcryptHash"] = unknown, unknown, unknown
		props, err := skeleton.Marshal(out)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	values, err := plain(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if failures := validate(values); len(failures) > 0 {
		return nil, fmt.Errorf("random password %s: %s: %s", skeleton.NameOf(req.GetUrn()), failures[0].Property, failures[0].Reason)
	}
	result, hash, err := Generate(paramsOf(withDefaults(values)))
	if err != nil {
		return nil, err
	}
	out["id"] = resource.NewProperty(ID)
	out["result"] = resource.MakeSecret(resource.NewProperty(result))
	out["bcryptHash"] = resource.MakeSecret(resource.NewProperty(hash))
	props, err := skeleton.Marshal(out)
	return &pulumirpc.CreateResponse{Id: ID, Properties: props}, err
}

// Read (refresh) answers the stored state unchanged: a password does not
// drift.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Update is never needed, since every change replaces; should the engine
// ask, it answers the new inputs (with defaults) and keeps the password.
func (p *Provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := skeleton.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	out := withDefaults(news)
	for _, k := range []resource.PropertyKey{"id", "__meta", "result", "bcryptHash"} {
		if v, ok := olds[k]; ok {
			out[k] = v
		}
	}
	for _, k := range SecretOutputs {
		if v, ok := out[resource.PropertyKey(k)]; ok && !v.IsSecret() && !v.IsComputed() {
			out[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	props, err := skeleton.Marshal(out)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Delete has nothing to delete.
func (p *Provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
