package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestRouteRules(t *testing.T) {
	w, _ := testWorld(t)
	a := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	b := newSite(t, w, "eu-west-1", "10.1.0.0/16", "10.1.1.0/24")
	inst, _ := w.mustCreate(t, a.region, awsmodel.Instance, "a-vpn", a.instanceInputs("10.0.1.7"))
	eni := "eni-" + inst[2:]
	w.mustCreate(t, a.region, awsmodel.Route, "default", in("routeTableId", a.table, "destinationCidrBlock", "0.0.0.0/0", "gatewayId", a.igw))
	_, _, err := w.Create(a.region, awsmodel.Route, "again", in("routeTableId", a.table, "destinationCidrBlock", "0.0.0.0/0", "gatewayId", a.igw))
	wantAPIError(t, err, "RouteAlreadyExists", "0.0.0.0/0")
	_, _, err = w.Create(a.region, awsmodel.Route, "other", in("routeTableId", a.table, "destinationCidrBlock", "10.9.0.0/16", "gatewayId", b.igw))
	wantAPIError(t, err, "InvalidParameterValue", "belong to different networks")
	_, _, err = w.Create(b.region, awsmodel.Route, "far", in("routeTableId", b.table, "destinationCidrBlock", "10.0.0.0/16", "networkInterfaceId", eni))
	wantAPIError(t, err, "InvalidParameterValue", "belong to different networks")
	_, _, err = w.Create(a.region, awsmodel.Route, "none", in("routeTableId", a.table, "destinationCidrBlock", "10.8.0.0/16"))
	wantAPIError(t, err, "InvalidParameterCombination", "No route target")
	id, _ := w.mustCreate(t, a.region, awsmodel.Route, "peer", in("routeTableId", a.table, "destinationCidrBlock", "10.1.0.0/16", "networkInterfaceId", eni))
	// A new target is ReplaceRoute, in place.
	if _, err := w.UpdateObject(a.region, awsmodel.Route, id, "peer",
		in("routeTableId", a.table, "destinationCidrBlock", "10.1.0.0/16", "networkInterfaceId", eni),
		in("routeTableId", a.table, "destinationCidrBlock", "10.1.0.0/16", "gatewayId", a.igw)); err != nil {
		t.Fatal(err)
	}
	if r := load(t, w).Routes[id]; r.IGW != a.igw || r.ENI != "" {
		t.Errorf("route after update: %+v", r)
	}
}

func TestAssociationRules(t *testing.T) {
	w, _ := testWorld(t)
	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.1.0/24")
	w.mustCreate(t, s.region, awsmodel.RouteTableAssociation, "a", in("subnetId", s.subnet, "routeTableId", s.table))
	_, _, err := w.Create(s.region, awsmodel.RouteTableAssociation, "b", in("subnetId", s.subnet, "routeTableId", s.table))
	wantAPIError(t, err, "Resource.AlreadyAssociated", s.table)
	wantAPIError(t, w.Delete(s.region, awsmodel.RouteTable, s.table), "DependencyViolation", s.table)
}
