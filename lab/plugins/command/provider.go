// Package command is the lab's stand-in for the pulumi-command provider
// plugin (1.2.1): it speaks the ordinary Pulumi provider protocol and
// implements exactly what the vpclink program uses, command:remote:Command
// over real SSH, with the real provider's observable behaviour (checked
// inputs, secrets, diffs, dial retries, environment, logging, messages).
// Every other resource type, function and property is refused by name.
package command

import (
	"context"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

// Version is the pulumi-command version the program's SDK
// (pulumi-command/sdk v1.2.1) asks for.
const Version = "1.2.1"

// Logger is where the provider's diagnostics go: the engine's
// *provider.HostClient in the plugin, a recorder in tests.
type Logger interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

// Provider implements the provider protocol for command:remote:Command.
type Provider struct {
	skeleton.Base
	logger Logger
	// dial opens the TCP connection of one SSH dial attempt.
	dial func(network, addr string, timeout time.Duration) (net.Conn, error)
	// after waits between dial attempts.
	after func(time.Duration) <-chan time.Time
}

// New returns a provider that logs to logger (nil: nowhere).
func New(logger Logger) *Provider {
	return &Provider{
		Base:   skeleton.Base{Name: "command", Version: Version},
		logger: logger,
		dial:   net.DialTimeout,
		after:  time.After,
	}
}

func (p *Provider) log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) {
	if p.logger != nil {
		_ = p.logger.Log(ctx, sev, urn, msg)
	}
}

// status sends an info status message, as the real provider does for the
// command's output lines and dial retries.
func (p *Provider) status(ctx context.Context, urn resource.URN, msg string) {
	if p.logger != nil {
		_ = p.logger.LogStatus(ctx, diag.Info, urn, msg)
	}
}

func only(urn string) error {
	if t := skeleton.TypeOf(urn); t != RemoteCommand {
		return skeleton.NotEmulated("resource type", t)
	}
	return nil
}

// Check refuses what is not emulated and applies the schema's defaults and
// secrets, as the real provider's Check does.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, failures := check(news)
	inputs, err := skeleton.Marshal(checked)
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, err
}

// diffKinds maps the SDK's detailed diff kinds to the protocol's.
var diffKinds = map[plugin.DiffKind]pulumirpc.PropertyDiff_Kind{
	plugin.DiffAdd:           pulumirpc.PropertyDiff_ADD,
	plugin.DiffAddReplace:    pulumirpc.PropertyDiff_ADD_REPLACE,
	plugin.DiffDelete:        pulumirpc.PropertyDiff_DELETE,
	plugin.DiffDeleteReplace: pulumirpc.PropertyDiff_DELETE_REPLACE,
	plugin.DiffUpdate:        pulumirpc.PropertyDiff_UPDATE,
	plugin.DiffUpdateReplace: pulumirpc.PropertyDiff_UPDATE_REPLACE,
}

// withoutEngineKeys drops "version" and the engine's "__" keys.
func withoutEngineKeys(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if k != "version" && !strings.HasPrefix(string(k), "__") {
			out[k] = v
		}
	}
	return out
}

// Diff compares old and new inputs: a change under triggers replaces, any
// other change is an in-place update. The diff is detailed, by property
// path, as the real provider's.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	state, err := skeleton.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	olds, err := skeleton.Unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 { // no old inputs recorded: the state holds them
		for k, v := range state {
			if inputKeys[string(k)] {
				olds[k] = v
			}
		}
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, k := range req.GetIgnoreChanges() {
		if v, ok := state[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}
	olds, news = withoutEngineKeys(olds), withoutEngineKeys(news)

	objDiff := olds.Diff(news)
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	if objDiff == nil || !objDiff.AnyChanges() {
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	diffs, replaces := map[string]bool{}, map[string]bool{}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, false) {
		top := path
		if pp, err := resource.ParsePropertyPath(path); err == nil && len(pp) > 0 {
			if s, ok := pp[0].(string); ok {
				top = s
			}
		}
		kind := d.Kind
		if top == "triggers" {
			kind = kind.AsReplace()
			replaces[top] = true
		}
		diffs[top] = true
		resp.DetailedDiff[path] = &pulumirpc.PropertyDiff{Kind: diffKinds[kind], InputDiff: d.InputDiff}
	}
	resp.Diffs, resp.Replaces = sortedSet(diffs), sortedSet(replaces)
	return resp, nil
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// outputs are the inputs with connection secret, plus stdout and stderr.
func outputs(in resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := withoutEngineKeys(in)
	if c, ok := out["connection"]; ok {
		out["connection"] = makeSecret(c)
	}
	out["stdout"], out["stderr"] = stdout, stderr
	return out
}

// Create runs `create` (nothing during a preview, where stdout and stderr
// are unknown).
func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	in, err := skeleton.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id, err := resource.NewUniqueHex(urn.Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		unknown := resource.MakeComputed(resource.NewProperty(""))
		props, err := skeleton.Marshal(outputs(in, unknown, unknown))
		return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
	}
	s, err := decode(in)
	if err != nil {
		return nil, err
	}
	var stdout, stderr string
	if s.create != nil {
		if stdout, stderr, err = p.run(ctx, urn, s, *s.create); err != nil {
			return nil, err
		}
	}
	props, err := skeleton.Marshal(outputs(in, resource.NewProperty(stdout), resource.NewProperty(stderr)))
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
}

// changedSince is whether an input of news is unknown or differs from the
// old state (where the state has it): the real provider's test for making
// stdout and stderr unknown in an update's preview.
func changedSince(state, news resource.PropertyMap) bool {
	for k := range inputKeys {
		key := resource.PropertyKey(k)
		if news[key].ContainsUnknowns() {
			return true
		}
		if old, ok := state[key]; ok && !old.DeepEquals(news[key]) {
			return true
		}
	}
	return false
}

// Update runs `update`, else `create`, with the new inputs; the previous
// stdout and stderr go to its environment. Nothing runs during a preview.
func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	state, err := skeleton.Unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := skeleton.Unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, k := range req.GetIgnoreChanges() {
		if v, ok := state[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}
	// The previous outputs, plain as the real provider returns them (the
	// engine re-applies additionalSecretOutputs).
	stdout, stderr := reveal(state["stdout"]), reveal(state["stderr"])
	if !stdout.IsString() {
		stdout = resource.NewProperty("")
	}
	if !stderr.IsString() {
		stderr = resource.NewProperty("")
	}
	if req.GetPreview() {
		if changedSince(state, news) {
			unknown := resource.MakeComputed(resource.NewProperty(""))
			stdout, stderr = unknown, unknown
		}
		props, err := skeleton.Marshal(outputs(news, stdout, stderr))
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	s, err := decode(news)
	if err != nil {
		return nil, err
	}
	s.stdout, s.stderr = stdout.StringValue(), stderr.StringValue()
	cmd := s.update
	if cmd == nil {
		cmd = s.create
	}
	if cmd != nil {
		out, errOut, err := p.run(ctx, urn, s, *cmd)
		if err != nil {
			return nil, err
		}
		stdout, stderr = resource.NewProperty(out), resource.NewProperty(errOut)
	}
	props, err := skeleton.Marshal(outputs(news, stdout, stderr))
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Delete runs `delete` with the resource's last state: its connection,
// stdin, environment and previous outputs.
func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	state, err := skeleton.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	s, err := decode(state)
	if err != nil {
		return nil, err
	}
	if s.delete == nil {
		return &emptypb.Empty{}, nil
	}
	if _, _, err := p.run(ctx, resource.URN(req.GetUrn()), s, *s.delete); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh) returns the state unchanged: a command has nothing to
// read back.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := only(req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
