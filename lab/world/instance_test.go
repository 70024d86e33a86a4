package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestInstanceRules(t *testing.T) {
	w, rec := testWorld(t)
	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	other := newSite(t, w, "eu-west-1", "10.1.0.0/16", "10.1.1.0/24")
	for _, tc := range []struct {
		name       string
		inputs     []any
		code, text string
	}{
		{"outside the subnet", []any{"privateIp", "10.0.2.7"}, "InvalidParameterValue", "does not fall within"},
		{"no such key", []any{"keyName", "nokey"}, "InvalidKeyPair.NotFound", "nokey"},
		{"group of another VPC", []any{"vpcSecurityGroupIds", []any{other.group}}, "InvalidGroup.NotFound", other.group},
		{"no such subnet", []any{"subnetId", "subnet-0"}, "InvalidSubnetID.NotFound", "subnet-0"},
	} {
		_, _, err := w.Create(s.region, awsmodel.Instance, tc.name, s.instanceInputs("10.0.1.7", tc.inputs...))
		wantAPIError(t, err, tc.code, tc.text)
	}
	id, out := w.mustCreate(t, s.region, awsmodel.Instance, "a-vpn", s.instanceInputs("10.0.1.7"))
	if awsmodel.Text(out["primaryNetworkInterfaceId"]) != "eni-"+id[2:] {
		t.Errorf("outputs: %v", out)
	}
	_, _, err := w.Create(s.region, awsmodel.Instance, "again", s.instanceInputs("10.0.1.7"))
	wantAPIError(t, err, "InvalidIPAddress.InUse", "10.0.1.7")
	// A new type stops and starts the instance; a new group does not.
	old := s.instanceInputs("10.0.1.7")
	if _, err := w.UpdateObject(s.region, awsmodel.Instance, id, "a-vpn", old, s.instanceInputs("10.0.1.7", "sourceDestCheck", false)); err != nil {
		t.Fatal(err)
	}
	if rec.saw("stop") {
		t.Error("a source/destination check change restarted the instance")
	}
	if load(t, w).Instances[id].SrcDstCheck {
		t.Error("source/destination check still on")
	}
	if _, err := w.UpdateObject(s.region, awsmodel.Instance, id, "a-vpn", old, s.instanceInputs("10.0.1.7", "instanceType", "t3.small")); err != nil {
		t.Fatal(err)
	}
	if !rec.saw("stop a-vpn") || load(t, w).Instances[id].InstanceType != "t3.small" {
		t.Error("a type change did not stop and start the instance")
	}
	_, err = w.UpdateObject(s.region, awsmodel.Instance, id, "a-vpn", old, s.instanceInputs("10.0.1.8"))
	if err == nil {
		t.Error("a new private IP changed in place")
	}
}

func TestElasticIPRules(t *testing.T) {
	w, _ := testWorld(t)
	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	inst, _ := w.mustCreate(t, s.region, awsmodel.Instance, "a-vpn", s.instanceInputs("10.0.1.7"))
	id, out := w.mustCreate(t, s.region, awsmodel.EIP, "a-eip", in("domain", "vpc", "instance", inst))
	ip := awsmodel.Text(out["publicIp"])
	if m := load(t, w); m.PublicIPOf(m.Instances[inst]) != ip || ip == "" {
		t.Errorf("address %q not associated", ip)
	}
	// A gateway with mapped addresses does not detach.
	wantAPIError(t, w.Delete(s.region, awsmodel.InternetGateway, s.igw), "DependencyViolation", "mapped public address")
	// The address outlives its instance, unassociated.
	if err := w.Delete(s.region, awsmodel.Instance, inst); err != nil {
		t.Fatal(err)
	}
	if e := load(t, w).EIPs[id]; e == nil || e.Instance != "" {
		t.Errorf("address after its instance: %+v", e)
	}
	if err := w.Delete(s.region, awsmodel.InternetGateway, s.igw); err != nil {
		t.Fatal(err)
	}
	bare := newSite(t, w, "eu-west-1", "10.2.0.0/16", "10.2.1.0/24")
	w.Delete(bare.region, awsmodel.InternetGateway, bare.igw)
	i2, _ := w.mustCreate(t, bare.region, awsmodel.Instance, "b-vpn", bare.instanceInputs("10.2.1.7"))
	_, _, err := w.Create(bare.region, awsmodel.EIP, "b-eip", in("domain", "vpc", "instance", i2))
	wantAPIError(t, err, "Gateway.NotAttached", "not attached")
}
