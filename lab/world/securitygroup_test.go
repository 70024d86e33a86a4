package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestRuleRules(t *testing.T) {
	w, _ := testWorld(t)
	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	ssh := in("securityGroupId", s.group, "ipProtocol", "tcp", "cidrIpv4", "198.51.100.250/32", "fromPort", 22, "toPort", 22)
	w.mustCreate(t, s.region, awsmodel.IngressRule, "ssh", ssh)
	_, _, err := w.Create(s.region, awsmodel.IngressRule, "ssh2", ssh)
	wantAPIError(t, err, "InvalidPermission.Duplicate", "already exists")
	// The same rule as egress is another rule.
	w.mustCreate(t, s.region, awsmodel.EgressRule, "ssh-out", ssh)
	_, _, err = w.Create(s.region, awsmodel.IngressRule, "bad", in("securityGroupId", s.group, "ipProtocol", "udp", "cidrIpv4", "0.0.0.0/0", "fromPort", 2, "toPort", 1))
	wantAPIError(t, err, "InvalidParameterValue", "Invalid port range 2-1")
	_, _, err = w.Create(s.region, awsmodel.IngressRule, "bad", in("securityGroupId", s.group, "ipProtocol", "tcp", "cidrIpv4", "1.2.3/8", "fromPort", 1, "toPort", 1))
	wantAPIError(t, err, "InvalidParameterValue", "malformed")
	m := load(t, w)
	if len(m.objects(awsmodel.IngressRule)) != 1 || len(m.objects(awsmodel.EgressRule)) != 1 {
		t.Errorf("rules by direction: %v %v", m.objects(awsmodel.IngressRule), m.objects(awsmodel.EgressRule))
	}
	// A group's own rules go with it.
	if err := w.Delete(s.region, awsmodel.SecurityGroup, s.group); err != nil {
		t.Fatal(err)
	}
	if n := len(load(t, w).Rules); n != 0 {
		t.Errorf("%d rules outlive their group", n)
	}
}

func TestKeyPairDuplicate(t *testing.T) {
	w, _ := testWorld(t)
	w.mustCreate(t, "eu-west-1", awsmodel.KeyPair, "k", in("keyName", "k"))
	_, _, err := w.Create("eu-west-1", awsmodel.KeyPair, "k2", in("keyName", "k"))
	wantAPIError(t, err, "InvalidKeyPair.Duplicate", "already exists")
	// Key names are per region.
	w.mustCreate(t, "us-east-1", awsmodel.KeyPair, "k", in("keyName", "k"))
}
