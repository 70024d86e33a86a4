package world

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// eipKind: an Elastic IP is 1:1 NAT on the VPC router, in documentation
// ranges; it stays allocated when its instance goes.
type eipKind struct{}

func (eipKind) ids(m *Model) []string { return keys(m.EIPs) }

func (eipKind) create(o *op, r Regional, in resource.PropertyMap) error {
	if countIn(o.m.EIPs, r.Region) >= AddressesPerRegion {
		// The text as AWS reports it (opstrace/opstrace#273,
		// terraform-aws-modules/terraform-aws-vpc#429).
		return apiError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
	}
	e := &EIP{Regional: r, PublicIP: allocatePublicIP(o.m)}
	o.publicIP = e.PublicIP
	o.m.EIPs[r.ID] = e
	if inst := text(in, "instance"); inst != "" {
		return associate(o, e, inst)
	}
	return o.sys.apply(o.m)
}

func (eipKind) update(o *op, id string, _, news resource.PropertyMap) error {
	e := o.m.EIPs[id]
	if e == nil {
		return notFound("allocation", id)
	}
	o.publicIP = e.PublicIP
	if text(news, "instance") == "" {
		e.Instance = ""
		return nil
	}
	return associate(o, e, text(news, "instance"))
}

func (eipKind) delete(o *op, id string) error {
	delete(o.m.EIPs, id)
	return nil
}

func allocatePublicIP(m *Model) string {
	taken := map[string]bool{OperatorIP: true, StrangerIP: true, RepoIP: true, APIIP: true}
	for _, e := range m.EIPs {
		taken[e.PublicIP] = true
	}
	for i := 0; i < 480; i++ {
		ip := fmt.Sprintf("203.0.113.%d", 10+i)
		if i >= 240 {
			ip = fmt.Sprintf("198.51.100.%d", 10+i-240)
		}
		if !taken[ip] {
			return ip
		}
	}
	return ""
}

func associate(o *op, e *EIP, instID string) error {
	m := o.m
	inst := m.Instances[instID]
	if inst == nil || inst.Region != e.Region {
		return notFound("instance", instID)
	}
	v := m.VPCs[m.Subnets[inst.Subnet].VPC]
	if v.IGW == "" {
		return apiError("Gateway.NotAttached", "Network %s is not attached to any internet gateway", v.ID)
	}
	// Associating replaces the instance's current address, if any.
	for _, x := range m.EIPs {
		if x.Instance == inst.ID && x.ID != e.ID {
			x.Instance = ""
		}
	}
	e.Instance = inst.ID
	return o.sys.apply(m)
}
