package world

import (
	"net/netip"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// routeKind: one route of a table, to an internet gateway or a network
// interface; a new target is an in-place change (ReplaceRoute).
type routeKind struct{}

func (routeKind) ids(m *Model) []string { return keys(m.Routes) }

func (routeKind) create(o *op, r Regional, in resource.PropertyMap) error {
	rt := &Route{Regional: r, Table: text(in, "routeTableId"), Dest: text(in, "destinationCidrBlock")}
	if err := setRoute(o.m, rt, in); err != nil {
		return err
	}
	n := 0
	for _, x := range o.m.Routes {
		if x.Table == rt.Table {
			n++
		}
	}
	if n >= RoutesPerTable {
		// No public report of the message text was found: this is the
		// code's description in the EC2 API reference ("Error codes for the
		// Amazon EC2 API", docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
		return apiError("RouteLimitExceeded", "You've reached the limit on the number of routes that you can add to a route table.")
	}
	o.m.Routes[r.ID] = rt
	return o.sys.apply(o.m)
}

func (routeKind) update(o *op, id string, _, news resource.PropertyMap) error {
	rt := o.m.Routes[id]
	if rt == nil {
		return notFound("route", id)
	}
	return setRoute(o.m, rt, news)
}

func (routeKind) delete(o *op, id string) error {
	delete(o.m.Routes, id)
	return nil
}

func setRoute(m *Model, rt *Route, in resource.PropertyMap) error {
	t := m.Tables[rt.Table]
	if t == nil || t.Region != rt.Region {
		return notFound("routeTable", rt.Table)
	}
	if _, err := netip.ParsePrefix(rt.Dest); err != nil {
		return apiError("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid.", rt.Dest)
	}
	for _, o := range m.Routes {
		if o.Table == rt.Table && o.Dest == rt.Dest && o.ID != rt.ID {
			return apiError("RouteAlreadyExists", "The route identified by %s already exists.", rt.Dest)
		}
	}
	rt.IGW, rt.ENI = text(in, "gatewayId"), text(in, "networkInterfaceId")
	switch {
	case rt.IGW != "" && rt.ENI != "":
		return apiError("InvalidParameterCombination", "More than one target specified")
	case rt.IGW != "":
		g := m.IGWs[rt.IGW]
		if g == nil || g.Region != rt.Region {
			return notFound("internetGateway", rt.IGW)
		}
		if g.VPC != t.VPC {
			return apiError("InvalidParameterValue", "route table %s and network gateway %s belong to different networks", t.ID, g.ID)
		}
	case rt.ENI != "":
		inst := m.instanceByENI(rt.ENI)
		if inst == nil || inst.Region != rt.Region {
			return notFound("networkInterface", rt.ENI)
		}
		if m.Subnets[inst.Subnet].VPC != t.VPC {
			return apiError("InvalidParameterValue", "route table %s and interface %s belong to different networks", t.ID, rt.ENI)
		}
	default:
		return apiError("InvalidParameterCombination", "No route target specified")
	}
	return nil
}

// RouteTarget is a route's target as the world has it now (after any
// ReplaceRoute through the lab's EC2 API): its internet gateway or its
// network interface.
func (w *World) RouteTarget(id string) (igw, eni string, err error) {
	m, err := w.Load()
	if err != nil {
		return "", "", err
	}
	rt := m.Routes[id]
	if rt == nil {
		return "", "", notFound("route", id)
	}
	return rt.IGW, rt.ENI, nil
}
