package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestSubnetRules(t *testing.T) {
	w, rec := testWorld(t)
	vpc, _ := w.mustCreate(t, "eu-west-1", awsmodel.VPC, "v", in("cidrBlock", "10.0.0.0/16"))
	w.mustCreate(t, "eu-west-1", awsmodel.Subnet, "a", in("vpcId", vpc, "cidrBlock", "10.0.1.0/24"))
	if !rec.saw("addGateway 10.0.1.1") {
		t.Errorf("the router got no gateway address: %v", rec.calls)
	}
	_, _, err := w.Create("eu-west-1", awsmodel.Subnet, "b", in("vpcId", vpc, "cidrBlock", "10.1.0.0/24"))
	wantAPIError(t, err, "InvalidSubnet.Range", "10.1.0.0/24")
	// A replacement with an overlapping range, created before the old one
	// is deleted (pulumi/pulumi #7199).
	_, _, err = w.Create("eu-west-1", awsmodel.Subnet, "a", in("vpcId", vpc, "cidrBlock", "10.0.1.0/25"))
	wantAPIError(t, err, "InvalidSubnet.Conflict", "The CIDR '10.0.1.0/25' conflicts with another subnet")
	_, _, err = w.Create("eu-central-1", awsmodel.Subnet, "c", in("vpcId", vpc, "cidrBlock", "10.0.2.0/24"))
	wantAPIError(t, err, "InvalidVpcID.NotFound", vpc)
}
