package world

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// groupKind: a security group of a VPC; its rules are separate objects
// (ruleKind), enforced on each member instance's interface.
type groupKind struct{ inPlace }

func (groupKind) ids(m *Model) []string { return keys(m.Groups) }

func (groupKind) create(o *op, r Regional, in resource.PropertyMap) error {
	v := o.m.VPCs[text(in, "vpcId")]
	if v == nil || v.Region != r.Region {
		return notFound("vpc", text(in, "vpcId"))
	}
	o.m.Groups[r.ID] = &Group{Regional: r, VPC: v.ID}
	return nil
}

func (groupKind) delete(o *op, id string) error {
	m := o.m
	for _, i := range m.Instances {
		for _, g := range i.Groups {
			if g == id {
				return apiError("DependencyViolation", "resource %s has a dependent object", id)
			}
		}
	}
	for _, r := range m.Rules {
		if r.Group == id {
			// The group's own rules go with it, as in AWS.
			delete(m.Rules, r.ID)
		}
	}
	delete(m.Groups, id)
	return nil
}

// ruleKind: one ingress or egress rule of a security group.
type ruleKind struct{ egress bool }

func (k ruleKind) ids(m *Model) []string {
	var ids []string
	for id, r := range m.Rules {
		if r.Egress == k.egress {
			ids = append(ids, id)
		}
	}
	return ids
}

func (k ruleKind) create(o *op, r Regional, in resource.PropertyMap) error {
	rule := &Rule{Regional: r, Egress: k.egress}
	if err := setRule(o.m, rule, in); err != nil {
		return err
	}
	n := 0
	for _, x := range o.m.Rules {
		if x.Group == rule.Group && x.Egress == rule.Egress {
			n++
		}
	}
	if n >= RulesPerGroupPerWay {
		// moto 5.2.1, ec2/exceptions.py RulesPerSecurityGroupLimitExceededError
		// (60 rules each way for a VPC's group, as moto's security_groups.py).
		return apiError("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	}
	o.m.Rules[r.ID] = rule
	return o.sys.apply(o.m)
}

func (ruleKind) update(o *op, id string, _, news resource.PropertyMap) error {
	r := o.m.Rules[id]
	if r == nil {
		return notFound("securityGroupRule", id)
	}
	return setRule(o.m, r, news)
}

func (ruleKind) delete(o *op, id string) error {
	delete(o.m.Rules, id)
	return nil
}

func setRule(m *Model, r *Rule, in resource.PropertyMap) error {
	g := m.Groups[text(in, "securityGroupId")]
	if g == nil || g.Region != r.Region {
		return notFound("securityGroup", text(in, "securityGroupId"))
	}
	r.Group, r.Protocol, r.CIDR = g.ID, text(in, "ipProtocol"), text(in, "cidrIpv4")
	if _, err := netip.ParsePrefix(r.CIDR); err != nil {
		return apiError("InvalidParameterValue", "CIDR block %s is malformed", r.CIDR)
	}
	r.From, r.To = -1, -1
	if v := text(in, "fromPort"); v != "" {
		r.From, _ = strconv.Atoi(v)
		r.To, _ = strconv.Atoi(text(in, "toPort"))
	}
	switch r.Protocol {
	case "-1", "icmp":
	case "tcp", "udp":
		if r.From < 0 || r.To < r.From || r.To > 65535 {
			return apiError("InvalidParameterValue", "Invalid port range %d-%d for protocol %s", r.From, r.To, r.Protocol)
		}
	default:
		return fmt.Errorf("vpclink lab: ipProtocol %q is not emulated", r.Protocol)
	}
	for _, o := range m.Rules {
		if o.ID != r.ID && o.Group == r.Group && o.Egress == r.Egress && o.Protocol == r.Protocol && o.From == r.From && o.To == r.To && o.CIDR == r.CIDR {
			return apiError("InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", r.CIDR, r.Protocol, r.From, r.To)
		}
	}
	return nil
}
