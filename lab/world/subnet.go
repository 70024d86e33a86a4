package world

import (
	"net/netip"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// subnetKind: a subnet is an address range of a VPC; the VPC router
// answers on its first host address, as AWS's does.
type subnetKind struct{ inPlace }

func (subnetKind) ids(m *Model) []string { return keys(m.Subnets) }

func (subnetKind) create(o *op, r Regional, in resource.PropertyMap) error {
	m := o.m
	v := m.VPCs[text(in, "vpcId")]
	if v == nil || v.Region != r.Region {
		return notFound("vpc", text(in, "vpcId"))
	}
	p, err := netip.ParsePrefix(text(in, "cidrBlock"))
	vp := netip.MustParsePrefix(v.CIDR)
	if err != nil || p.Masked() != p || p.Bits() < vp.Bits() || p.Bits() > 28 || !vp.Contains(p.Addr()) {
		return apiError("InvalidSubnet.Range", "The CIDR '%s' is invalid.", text(in, "cidrBlock"))
	}
	for _, s := range m.Subnets {
		if s.VPC == v.ID && netip.MustParsePrefix(s.CIDR).Overlaps(p) {
			return apiError("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", p)
		}
	}
	zone := text(in, "availabilityZone")
	if zone == "" {
		zone = awsmodel.DefaultZone(r.Region)
	} else if !awsmodel.IsZone(r.Region, zone) {
		return awsmodel.InvalidZone(r.Region, zone)
	}
	s := &Subnet{Regional: r, VPC: v.ID, CIDR: p.String(), Gateway: p.Addr().Next().String(), Bits: p.Bits(), Zone: zone}
	if err := o.sys.addGateway(v, s); err != nil {
		return err
	}
	m.Subnets[r.ID] = s
	return nil
}

func (subnetKind) delete(o *op, id string) error {
	m := o.m
	s := m.Subnets[id]
	for _, i := range m.Instances {
		if i.Subnet == id {
			return dependency("subnet", id)
		}
	}
	o.sys.removeGateway(m.VPCs[s.VPC], s)
	delete(m.Subnets, id)
	return nil
}

// zone is the subnet's availability zone.
func (s *Subnet) zone() string {
	if s.Zone != "" {
		return s.Zone
	}
	return awsmodel.DefaultZone(s.Region)
}
