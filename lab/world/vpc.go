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
	if n := countIn(o.m.VPCs, r.Region); n >= VPCsPerRegion {
		// The text as AWS reports it (terraform-aws-modules/terraform-aws-vpc#429).
		return apiError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
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

// Default quotas (SPEC "AWS facts for day-2 changes and scale"; the Service
// Quotas console has the account's own). On AWS the region's default VPC
// counts toward the five; the lab has none.
const (
	VPCsPerRegion       = 5
	AddressesPerRegion  = 5
	RoutesPerTable      = 500
	RulesPerGroupPerWay = 60
)

// countIn counts the objects of a region.
func countIn[T interface{ region() string }](objs map[string]T, region string) int {
	n := 0
	for _, o := range objs {
		if o.region() == region {
			n++
		}
	}
	return n
}
