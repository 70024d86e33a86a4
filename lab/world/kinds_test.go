package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// Every modelled resource type is emulated, and nothing else.
func TestEveryKindDispatched(t *testing.T) {
	for token := range awsmodel.Kinds {
		if kinds[token] == nil {
			t.Errorf("%s is modelled but not emulated", token)
		}
	}
	for token := range kinds {
		if awsmodel.Kinds[token] == nil {
			t.Errorf("%s is emulated but not modelled", token)
		}
	}
	w, _ := testWorld(t)
	if _, _, err := w.Create("eu-west-1", "aws:s3/bucket:Bucket", "b", in()); err == nil {
		t.Error("an unknown type was created")
	}
}

// A whole site comes up, is counted, and goes in dependency order only.
func TestSiteLifecycle(t *testing.T) {
	w, rec := testWorld(t)
	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	inst, _ := w.mustCreate(t, s.region, awsmodel.Instance, "a-vpn", s.instanceInputs("10.0.1.7"))
	if m := load(t, w); m.Instances[inst].State != "running" || m.Instances[inst].MAC == "" || !rec.saw("boot a-vpn") {
		t.Fatalf("instance not booted: %+v", m.Instances[inst])
	}
	if n := load(t, w).Count(); n != 7 {
		t.Errorf("%d objects, want 7", n)
	}
	wantAPIError(t, w.Delete(s.region, awsmodel.Subnet, s.subnet), "DependencyViolation", s.subnet)
	wantAPIError(t, w.Delete(s.region, awsmodel.SecurityGroup, s.group), "DependencyViolation", s.group)
	wantAPIError(t, w.Delete(s.region, awsmodel.VPC, s.vpc), "DependencyViolation", s.vpc)
	for _, step := range []struct{ token, id string }{
		{awsmodel.Instance, inst}, {awsmodel.Subnet, s.subnet}, {awsmodel.SecurityGroup, s.group},
		{awsmodel.RouteTable, s.table}, {awsmodel.InternetGateway, s.igw}, {awsmodel.VPC, s.vpc}, {awsmodel.KeyPair, s.key},
	} {
		if err := w.Delete(s.region, step.token, step.id); err != nil {
			t.Fatalf("delete %s: %v", step.token, err)
		}
		if ok, _ := w.ObjectExists(step.token, step.id); ok {
			t.Errorf("%s %s still exists", step.token, step.id)
		}
	}
	if !rec.saw("remove a-vpn") || !rec.saw("removeVPC 10.0.0.0/16") {
		t.Errorf("the system was not told: %v", rec.calls)
	}
	if n := load(t, w).Count(); n != 0 {
		t.Errorf("%d objects left", n)
	}
	// Deleting what is gone succeeds, as the provider treats NotFound.
	if err := w.Delete(s.region, awsmodel.VPC, s.vpc); err != nil {
		t.Errorf("delete again: %v", err)
	}
}
