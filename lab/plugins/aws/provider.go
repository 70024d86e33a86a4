// Package aws is the lab's stand-in for the pulumi-aws provider
// plugin: it speaks the ordinary Pulumi provider protocol, reports the
// version the program's SDK asks for, and implements exactly the resource
// types, inputs and functions the vpclink program uses, against the lab's
// emulated world (lab/world). What AWS would answer (ids, outputs, which
// changes replace) comes from internal/awsmodel, shared with the unit tests'
// mocks. Anything else is refused by name. It never reads AWS credentials
// and never contacts anything outside the lab.
package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// Version is the pulumi-aws version the program's SDK (pulumi-aws/sdk/v6
// v6.83.4) asks for.
const Version = "6.83.4"

// Environment variables that tie the plugin to a lab.
const (
	EnvState  = "VPCLINK_LAB_STATE"
	EnvPrefix = "VPCLINK_LAB_PREFIX"
)

// Provider implements the provider protocol over the lab's world.
type Provider struct {
	skeleton.Base
	world  *world.World
	region string
}

// New returns a provider for the lab named by the environment; without it
// the plugin refuses to run, so it cannot be mistaken for the real one.
func New() (*Provider, error) {
	dir, prefix := os.Getenv(EnvState), os.Getenv(EnvPrefix)
	if dir == "" || prefix == "" {
		return nil, fmt.Errorf("this pulumi-resource-aws is the vpclink lab's emulation of AWS; it runs only under `scripts/lab` (%s and %s unset)", EnvState, EnvPrefix)
	}
	w, err := world.New(prefix, dir)
	if err != nil {
		return nil, err
	}
	return &Provider{Base: skeleton.Base{Name: "aws", Version: Version, ConfigKeys: providerKeys}, world: w}, nil
}

// providerKeys are the provider configuration keys the program sets.
var providerKeys = map[string]bool{
	"region": true,
	// The SDK sets these two to its defaults on every explicit provider.
	"skipCredentialsValidation": true, "skipRegionValidation": true,
}

// CheckConfig refuses provider settings the lab does not emulate (and so
// never sees credentials: keys such as accessKey are refused by name).
func (p *Provider) CheckConfig(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	resp, err := p.Base.CheckConfig(ctx, req)
	if err != nil {
		return nil, err
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	failures := resp.Failures
	if awsmodel.Text(news["region"]) == "" && !news["region"].IsComputed() {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "region", Reason: "vpclink lab: the provider needs an explicit region"})
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// DiffConfig: another region means other resources.
func (p *Provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := skeleton.Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if awsmodel.Equal(olds["region"], news["region"]) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: []string{"region"}, Replaces: []string{"region"}}, nil
}

// Configure takes the region.
func (p *Provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := skeleton.Unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	p.region = awsmodel.Text(args["region"])
	if p.region == "" {
		p.region = req.GetVariables()["aws:config:region"]
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// Check refuses what is not emulated and fills in auto-names, as the real
// provider does (kept from the old inputs once given).
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	token := skeleton.TypeOf(req.GetUrn())
	kind := awsmodel.Kinds[token]
	if kind == nil {
		return nil, skeleton.NotEmulated("resource type", token)
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := skeleton.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, k := range awsmodel.Unmodelled(token, news) {
		failures = append(failures, skeleton.PropertyNotEmulated(token, k))
	}
	if kind.AutoName != "" {
		key := resource.PropertyKey(kind.AutoName)
		// A namePrefix (IAM) is the provider's to complete, at create.
		if _, ok := news[key]; !ok && awsmodel.Text(news["namePrefix"]) == "" {
			if old, ok := olds[key]; ok {
				news[key] = old
			} else {
				b := make([]byte, 4)
				rand.Read(b)
				news[key] = resource.NewProperty(awsmodel.AutoName(skeleton.NameOf(req.GetUrn()), hex.EncodeToString(b)))
			}
		}
	}
	inputs, err := skeleton.Marshal(news)
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, err
}

// Diff reports the changed inputs and which of them replace, by the model.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := skeleton.Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = skeleton.Unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	token := skeleton.TypeOf(req.GetUrn())
	for _, k := range req.GetIgnoreChanges() {
		if v, ok := olds[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}
	changed, replaces := awsmodel.Diff(token, olds, news)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	if len(changed) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs, resp.Replaces = changed, replaces
		for _, k := range changed {
			kind := pulumirpc.PropertyDiff_UPDATE
			if _, ok := olds[resource.PropertyKey(k)]; !ok {
				kind = pulumirpc.PropertyDiff_ADD
			} else if _, ok := news[resource.PropertyKey(k)]; !ok {
				kind = pulumirpc.PropertyDiff_DELETE
			}
			for _, r := range replaces {
				if r == k {
					kind += 1 // the _REPLACE variant follows each kind
				}
			}
			resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		}
	}
	return resp, nil
}

// Create creates the object in the emulated world.
func (p *Provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	in, err := skeleton.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	token := skeleton.TypeOf(req.GetUrn())
	if req.GetPreview() {
		props, err := skeleton.Marshal(in)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	id, out, err := p.world.Create(p.region, token, skeleton.NameOf(req.GetUrn()), in)
	if err != nil {
		return nil, err
	}
	props, err := skeleton.Marshal(out)
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
}

// Read reports whether the object still exists (refresh); its properties
// are what the lab made them.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	ok, err := p.world.ObjectExists(skeleton.TypeOf(req.GetUrn()), req.GetId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return &pulumirpc.ReadResponse{}, nil
	}
	if skeleton.TypeOf(req.GetUrn()) == awsmodel.Route {
		return p.readRoute(req)
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// readRoute reports a route's target as the world has it: a ReplaceRoute
// from an instance (the HA monitor, through the lab's EC2 API) shows up on
// refresh as drift, as the real provider's refresh shows it.
func (p *Provider) readRoute(req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	igw, eni, err := p.world.RouteTarget(req.GetId())
	if err != nil {
		return nil, err
	}
	patch := func(s *structpb.Struct) (*structpb.Struct, error) {
		m, err := skeleton.Unmarshal(s)
		if err != nil || len(m) == 0 {
			return s, err
		}
		for k, v := range map[resource.PropertyKey]string{"gatewayId": igw, "networkInterfaceId": eni} {
			if v != "" {
				m[k] = resource.NewProperty(v)
			} else {
				delete(m, k)
			}
		}
		return skeleton.Marshal(m)
	}
	props, err := patch(req.GetProperties())
	if err != nil {
		return nil, err
	}
	inputs, err := patch(req.GetInputs())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: inputs}, nil
}

// Update changes the object in place.
func (p *Provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		// As the real provider plans: computed outputs that the change does
		// not touch keep their values (an interface id stays known).
		olds, err := skeleton.Unmarshal(req.GetOlds())
		if err != nil {
			return nil, err
		}
		out := awsmodel.Outputs(skeleton.TypeOf(req.GetUrn()), req.GetId(), skeleton.NameOf(req.GetUrn()), news, p.region, awsmodel.Text(olds["publicIp"]))
		for k, v := range olds {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
		props, err := skeleton.Marshal(out)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	olds, err := skeleton.Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	out, err := p.world.UpdateObject(p.region, skeleton.TypeOf(req.GetUrn()), req.GetId(), skeleton.NameOf(req.GetUrn()), olds, news)
	if err != nil {
		return nil, err
	}
	props, err := skeleton.Marshal(out)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Delete deletes the object, subject to AWS's dependency checks.
func (p *Provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, p.world.Delete(p.region, skeleton.TypeOf(req.GetUrn()), req.GetId())
}

// Invoke answers the functions the program calls.
func (p *Provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := skeleton.Unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	var out resource.PropertyMap
	switch req.GetTok() {
	case awsmodel.GetInstanceType:
		out = awsmodel.InstanceTypeResult(awsmodel.Text(args["instanceType"]))
	case awsmodel.GetAmi:
		out = awsmodel.AmiResult(p.region, args)
	case awsmodel.GetInstanceTypeOfferings:
		out, err = awsmodel.InstanceTypeOfferingsResult(p.region, args)
	case awsmodel.GetAvailabilityZones:
		out, err = awsmodel.AvailabilityZonesResult(p.region, args)
	default:
		return p.Base.Invoke(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	ret, err := skeleton.Marshal(out)
	return &pulumirpc.InvokeResponse{Return: ret}, err
}
