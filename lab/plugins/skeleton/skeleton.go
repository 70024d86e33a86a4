// Package skeleton is what the lab's stand-in plugins (lab/plugins/aws,
// command, random) share: serving the Pulumi provider protocol over gRPC,
// (un)marshalling property maps with secrets and unknowns kept, answering
// the provider-level calls alike, and refusing by name every resource type,
// property and provider setting a stand-in does not emulate. Each stand-in
// implements only what the vpclink program uses; a call it does not answer
// fails rather than pretending.
package skeleton

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Serve runs a provider plugin named name (the "aws" of
// pulumi-resource-aws) as the engine starts it: it prints its port and
// serves until the engine stops it. It does not return on failure: the
// error is printed and the process exits 1.
func Serve(name string, make func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error)) {
	if err := provider.Main(name, make); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Options keep secrets and unknowns (preview) and drop nulls, both ways.
var Options = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepOutputValues: false, SkipNulls: true}

// Unmarshal decodes a request's properties; nil decodes to an empty map.
func Unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	m, err := plugin.UnmarshalProperties(s, Options)
	if m == nil {
		m = resource.PropertyMap{}
	}
	return m, err
}

// Marshal encodes properties for a response.
func Marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, Options)
}

// TypeOf is the type token of a URN (aws:ec2/vpc:Vpc).
func TypeOf(urn string) string { return string(resource.URN(urn).Type()) }

// NameOf is the resource name of a URN.
func NameOf(urn string) string { return resource.URN(urn).Name() }

// NotEmulated is the error for a resource type or function a stand-in does
// not implement: "vpclink lab: resource type X is not emulated".
func NotEmulated(what, token string) error {
	return fmt.Errorf("vpclink lab: %s %s is not emulated", what, token)
}

// Unknown returns a check failure for every key of props that is not in
// allowed (keys starting with "__", the engine's own, are ignored), sorted:
// "vpclink lab: property "x" of TOKEN is not emulated".
func Unknown(token string, props resource.PropertyMap, allowed map[string]bool) []*pulumirpc.CheckFailure {
	var keys []string
	for k := range props {
		if !allowed[string(k)] && !strings.HasPrefix(string(k), "__") {
			keys = append(keys, string(k))
		}
	}
	sort.Strings(keys)
	var out []*pulumirpc.CheckFailure
	for _, k := range keys {
		out = append(out, PropertyNotEmulated(token, k))
	}
	return out
}

// PropertyNotEmulated is the check failure for property key of token:
// "vpclink lab: property "x" of TOKEN is not emulated".
func PropertyNotEmulated(token, key string) *pulumirpc.CheckFailure {
	return &pulumirpc.CheckFailure{Property: key, Reason: fmt.Sprintf("vpclink lab: property %q of %s is not emulated", key, token)}
}

// Base answers the provider-level calls of a stand-in. Embed it and set
// Name, Version and ConfigKeys.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer
	// Name is the package name (aws, command, random).
	Name string
	// Version is what GetPluginInfo reports: the version the program's SDK
	// asks for, so the engine matches it without a warning.
	Version string
	// ConfigKeys are the provider settings accepted besides "version";
	// any other is refused by name (credentials never reach a stand-in).
	ConfigKeys map[string]bool
}

// GetPluginInfo reports Version.
func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

// CheckConfig refuses settings outside ConfigKeys.
func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{"version": true}
	for k := range b.ConfigKeys {
		allowed[k] = true
	}
	var failures []*pulumirpc.CheckFailure
	for _, f := range Unknown(b.Name+" provider", news, allowed) {
		f.Reason = fmt.Sprintf("vpclink lab: provider setting %q of %s is not emulated", f.Property, b.Name)
		failures = append(failures, f)
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// DiffConfig reports changed settings; none of them replaces.
func (b *Base) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, k := range olds.Diff(news).ChangedKeys() {
		if k != "version" {
			diffs = append(diffs, string(k))
		}
	}
	if len(diffs) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	sort.Strings(diffs)
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: diffs}, nil
}

// Configure accepts secrets and previews.
func (b *Base) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// GetSchema is refused: `up`, `preview` and `destroy` of a Go program do
// not ask for it.
func (b *Base) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return nil, fmt.Errorf("vpclink lab: the %s stand-in has no schema", b.Name)
}

// Invoke is refused unless the stand-in overrides it.
func (b *Base) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, NotEmulated("function", req.GetTok())
}

// Cancel has nothing to stop.
func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
