package world

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// tableKind: a route table of a VPC, applied at layer 2 on its bridge.
type tableKind struct{ inPlace }

func (tableKind) ids(m *Model) []string { return keys(m.Tables) }

func (tableKind) create(o *op, r Regional, in resource.PropertyMap) error {
	v := o.m.VPCs[text(in, "vpcId")]
	if v == nil || v.Region != r.Region {
		return notFound("vpc", text(in, "vpcId"))
	}
	o.m.Tables[r.ID] = &Table{Regional: r, VPC: v.ID}
	return nil
}

func (tableKind) delete(o *op, id string) error {
	for _, a := range o.m.Assocs {
		if a.Table == id {
			return dependency("routeTable", id)
		}
	}
	delete(o.m.Tables, id)
	return nil
}

// assocKind associates a subnet with a route table; another table is an
// in-place change (ReplaceRouteTableAssociation).
type assocKind struct{}

func (assocKind) ids(m *Model) []string { return keys(m.Assocs) }

func (assocKind) create(o *op, r Regional, in resource.PropertyMap) error {
	m := o.m
	s, t := m.Subnets[text(in, "subnetId")], m.Tables[text(in, "routeTableId")]
	if s == nil || s.Region != r.Region {
		return notFound("subnet", text(in, "subnetId"))
	}
	if t == nil || t.Region != r.Region {
		return notFound("routeTable", text(in, "routeTableId"))
	}
	for _, a := range m.Assocs {
		if a.Subnet == s.ID {
			return apiError("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", t.ID)
		}
	}
	m.Assocs[r.ID] = &Assoc{Regional: r, Subnet: s.ID, Table: t.ID}
	return o.sys.apply(m)
}

func (assocKind) update(o *op, id string, _, news resource.PropertyMap) error {
	a := o.m.Assocs[id]
	t := o.m.Tables[text(news, "routeTableId")]
	if a == nil || t == nil {
		return notFound("routeTable", text(news, "routeTableId"))
	}
	a.Table = t.ID
	return nil
}

func (assocKind) delete(o *op, id string) error {
	delete(o.m.Assocs, id)
	return nil
}
