package world

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// vpcKind: a VPC is a router namespace with a bridge.
type vpcKind struct{ inPlace }

func (vpcKind) ids(m *Model) []string { return keys(m.VPCs) }

func (vpcKind) create(o *op, r Regional, in resource.PropertyMap) error {
	p, err := netip.ParsePrefix(text(in, "cidrBlock"))
	if err != nil || p.Masked() != p || p.Bits() < 16 || p.Bits() > 28 {
		return apiError("InvalidVpc.Range", "The CIDR '%s' is invalid.", text(in, "cidrBlock"))
	}
	o.m.Seq++
	v := &VPC{Regional: r, CIDR: p.String(), NS: o.w.NS(fmt.Sprintf("v%d", o.m.Seq))}
	if err := o.sys.addVPC(v); err != nil {
		return err
	}
	o.m.VPCs[r.ID] = v
	return nil
}

func (vpcKind) delete(o *op, id string) error {
	m := o.m
	v := m.VPCs[id]
	for _, s := range m.Subnets {
		if s.VPC == id {
			return dependency("vpc", id)
		}
	}
	for _, t := range m.Tables {
		if t.VPC == id {
			return dependency("vpc", id)
		}
	}
	for _, g := range m.Groups {
		if g.VPC == id {
			return dependency("vpc", id)
		}
	}
	if v.IGW != "" {
		return dependency("vpc", id)
	}
	if err := o.sys.removeVPC(v); err != nil {
		return err
	}
	delete(m.VPCs, id)
	return nil
}
