package world

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// igwKind: an internet gateway is a link from a VPC's router to the
// internet bridge; attaching to another VPC is a detach and an attach.
type igwKind struct{}

func (igwKind) ids(m *Model) []string { return keys(m.IGWs) }

func (igwKind) create(o *op, r Regional, in resource.PropertyMap) error {
	g := &IGW{Regional: r}
	o.m.IGWs[r.ID] = g
	if vid := text(in, "vpcId"); vid != "" {
		return attach(o, g, vid)
	}
	return nil
}

func (igwKind) update(o *op, id string, _, news resource.PropertyMap) error {
	g := o.m.IGWs[id]
	if g == nil {
		return notFound("internetGateway", id)
	}
	if g.VPC != text(news, "vpcId") {
		if g.VPC != "" {
			if err := detach(o, g); err != nil {
				return err
			}
		}
		if v := text(news, "vpcId"); v != "" {
			return attach(o, g, v)
		}
	}
	return nil
}

func (igwKind) delete(o *op, id string) error {
	g := o.m.IGWs[id]
	if g.VPC != "" {
		if err := detach(o, g); err != nil {
			return err
		}
	}
	delete(o.m.IGWs, id)
	return nil
}

func attach(o *op, g *IGW, vpcID string) error {
	m := o.m
	v := m.VPCs[vpcID]
	if v == nil || v.Region != g.Region {
		return notFound("vpc", vpcID)
	}
	if v.IGW != "" {
		return apiError("Resource.AlreadyAssociated", "resource %s is already associated with network %s", v.IGW, v.ID)
	}
	m.Seq++
	g.Port = fmt.Sprintf("r%d", m.Seq)
	if err := o.sys.linkIGW(v, g.Port); err != nil {
		return err
	}
	g.VPC, v.IGW = v.ID, g.ID
	return o.sys.apply(m)
}

func detach(o *op, g *IGW) error {
	m := o.m
	for _, e := range m.EIPs {
		if inst := m.Instances[e.Instance]; inst != nil && m.Subnets[inst.Subnet].VPC == g.VPC {
			return apiError("DependencyViolation", "Network %s has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", g.VPC)
		}
	}
	if v := m.VPCs[g.VPC]; v != nil {
		if err := o.sys.unlinkIGW(v); err != nil {
			return err
		}
		v.IGW = ""
	}
	g.VPC, g.Port = "", ""
	return nil
}
