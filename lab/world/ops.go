package world

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The AWS API as the lab emulates it: each operation checks what AWS
// checks, with AWS's error codes and texts, and changes the namespaces.

// apiError is an AWS API error as the provider reports it.
func apiError(code, format string, args ...any) error {
	return fmt.Errorf("%s: %s\n\tstatus code: 400 (vpclink lab)", code, fmt.Sprintf(format, args...))
}

func notFound(kind, id string) error {
	code := map[string]string{
		"vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound", "routeTable": "InvalidRouteTableID.NotFound",
		"securityGroup": "InvalidGroup.NotFound", "instance": "InvalidInstanceID.NotFound",
		"internetGateway": "InvalidInternetGatewayID.NotFound", "networkInterface": "InvalidNetworkInterfaceID.NotFound",
		"keyPair": "InvalidKeyPair.NotFound", "allocation": "InvalidAllocationID.NotFound",
	}[kind]
	return apiError(code, "The %s ID '%s' does not exist", kind, id)
}

func text(in resource.PropertyMap, k string) string {
	return awsmodel.Text(in[resource.PropertyKey(k)])
}

func list(in resource.PropertyMap, k string) []string {
	var out []string
	if v := awsmodel.Unwrap(in[resource.PropertyKey(k)]); v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, awsmodel.Text(e))
		}
	}
	return out
}

// Create creates one AWS object and returns its id and outputs.
func (w *World) Create(region, token, name string, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	id := NewID(awsmodel.IDPrefix(token))
	publicIP := ""
	var host *Host
	err := w.Update(func(m *Model) error {
		r := Regional{ID: id, Region: region, Name: name}
		switch token {
		case awsmodel.VPC:
			p, err := netip.ParsePrefix(text(in, "cidrBlock"))
			if err != nil || p.Masked() != p || p.Bits() < 16 || p.Bits() > 28 {
				return apiError("InvalidVpc.Range", "The CIDR '%s' is invalid.", text(in, "cidrBlock"))
			}
			m.Seq++
			v := &VPC{Regional: r, CIDR: p.String(), NS: w.NS(fmt.Sprintf("v%d", m.Seq))}
			if err := w.addVPCNetwork(v); err != nil {
				return err
			}
			m.VPCs[id] = v
		case awsmodel.InternetGateway:
			g := &IGW{Regional: r}
			m.IGWs[id] = g
			if vid := text(in, "vpcId"); vid != "" {
				return w.attach(m, g, vid)
			}
		case awsmodel.Subnet:
			return w.createSubnet(m, r, in)
		case awsmodel.RouteTable:
			v := m.VPCs[text(in, "vpcId")]
			if v == nil || v.Region != region {
				return notFound("vpc", text(in, "vpcId"))
			}
			m.Tables[id] = &Table{Regional: r, VPC: v.ID}
		case awsmodel.Route:
			rt := &Route{Regional: r, Table: text(in, "routeTableId"), Dest: text(in, "destinationCidrBlock")}
			if err := w.setRoute(m, rt, in); err != nil {
				return err
			}
			m.Routes[id] = rt
			return w.apply(m)
		case awsmodel.RouteTableAssociation:
			s, t := m.Subnets[text(in, "subnetId")], m.Tables[text(in, "routeTableId")]
			if s == nil || s.Region != region {
				return notFound("subnet", text(in, "subnetId"))
			}
			if t == nil || t.Region != region {
				return notFound("routeTable", text(in, "routeTableId"))
			}
			for _, a := range m.Assocs {
				if a.Subnet == s.ID {
					return apiError("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", t.ID)
				}
			}
			m.Assocs[id] = &Assoc{Regional: r, Subnet: s.ID, Table: t.ID}
			return w.apply(m)
		case awsmodel.SecurityGroup:
			v := m.VPCs[text(in, "vpcId")]
			if v == nil || v.Region != region {
				return notFound("vpc", text(in, "vpcId"))
			}
			m.Groups[id] = &Group{Regional: r, VPC: v.ID}
		case awsmodel.IngressRule, awsmodel.EgressRule:
			rule := &Rule{Regional: r, Egress: token == awsmodel.EgressRule}
			if err := setRule(m, rule, in); err != nil {
				return err
			}
			m.Rules[id] = rule
			return w.apply(m)
		case awsmodel.KeyPair:
			keyName := text(in, "keyName")
			for _, k := range m.Keys {
				if k.KeyName == keyName && k.Region == region {
					return apiError("InvalidKeyPair.Duplicate", "The keypair already exists")
				}
			}
			m.Keys[id] = &Key{Regional: r, KeyName: keyName, PublicKey: text(in, "publicKey")}
		case awsmodel.Instance:
			inst, err := w.reserveInstance(m, r, in)
			if err != nil {
				return err
			}
			host = &inst.Host
		case awsmodel.EIP:
			e := &EIP{Regional: r, PublicIP: allocatePublicIP(m)}
			publicIP = e.PublicIP
			m.EIPs[id] = e
			if inst := text(in, "instance"); inst != "" {
				return w.associate(m, e, inst)
			}
			return w.apply(m)
		default:
			return fmt.Errorf("vpclink lab: resource type %s is not emulated", token)
		}
		return nil
	})
	if err != nil {
		if token == awsmodel.Instance && host != nil {
			w.Delete(region, token, id)
		}
		return "", nil, err
	}
	if token == awsmodel.Instance {
		if err := w.bootInstance(id, text(in, "userData")); err != nil {
			w.Delete(region, token, id)
			return "", nil, err
		}
	}
	return id, awsmodel.Outputs(token, id, name, in, region, publicIP), nil
}

func (w *World) createSubnet(m *Model, r Regional, in resource.PropertyMap) error {
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
	s := &Subnet{Regional: r, VPC: v.ID, CIDR: p.String(), Gateway: p.Addr().Next().String(), Bits: p.Bits()}
	// The VPC router answers on the first host address, as AWS's does.
	if _, err := run("ip", "-n", v.NS, "addr", "add", fmt.Sprintf("%s/%d", s.Gateway, s.Bits), "dev", bridgeName); err != nil {
		return err
	}
	m.Subnets[r.ID] = s
	return nil
}

func (w *World) attach(m *Model, g *IGW, vpcID string) error {
	v := m.VPCs[vpcID]
	if v == nil || v.Region != g.Region {
		return notFound("vpc", vpcID)
	}
	if v.IGW != "" {
		return apiError("Resource.AlreadyAssociated", "resource %s is already associated with network %s", v.IGW, v.ID)
	}
	if err := w.attachIGW(m, g, v); err != nil {
		return err
	}
	return w.apply(m)
}

func (w *World) setRoute(m *Model, rt *Route, in resource.PropertyMap) error {
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

func (w *World) reserveInstance(m *Model, r Regional, in resource.PropertyMap) (*Instance, error) {
	s := m.Subnets[text(in, "subnetId")]
	if s == nil || s.Region != r.Region {
		return nil, notFound("subnet", text(in, "subnetId"))
	}
	v := m.VPCs[s.VPC]
	ip := text(in, "privateIp")
	addr, err := netip.ParseAddr(ip)
	p := netip.MustParsePrefix(s.CIDR)
	if err != nil || !p.Contains(addr) {
		return nil, apiError("InvalidParameterValue", "Address %s does not fall within the subnet's address range", ip)
	}
	for _, o := range m.Instances {
		if o.Subnet == s.ID && o.IP == ip {
			return nil, apiError("InvalidIPAddress.InUse", "Address %s is in use.", ip)
		}
	}
	var k *Key
	for _, key := range m.Keys {
		if key.KeyName == text(in, "keyName") && key.Region == r.Region {
			k = key
		}
	}
	if k == nil {
		return nil, apiError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", text(in, "keyName"))
	}
	groups := list(in, "vpcSecurityGroupIds")
	for _, g := range groups {
		if grp := m.Groups[g]; grp == nil || grp.VPC != v.ID {
			return nil, apiError("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", g, v.ID)
		}
	}
	m.Seq++
	inst := &Instance{
		Regional: r, Subnet: s.ID, IP: ip, Port: fmt.Sprintf("h%d", m.Seq),
		ENI:    "eni-" + strings.TrimPrefix(r.ID, "i-"),
		Groups: groups,
		// AWS's default is on; only an explicit false turns it off.
		SrcDstCheck:  text(in, "sourceDestCheck") != "false",
		InstanceType: text(in, "instanceType"), KeyName: k.KeyName, State: "pending",
	}
	inst.Host = Host{
		Name: r.Name, NetNS: w.NS(fmt.Sprintf("i%d", m.Seq)), PrivateIP: ip,
		Dir: filepath.Join(w.Dir, "hosts", r.ID),
	}
	m.Instances[r.ID] = inst
	if err := w.plugInstance(inst, s, v); err != nil {
		return inst, err
	}
	return inst, w.apply(m)
}

// bootInstance starts the host of a reserved instance, outside the lock:
// hosts of other instances come up at the same time, as on AWS.
func (w *World) bootInstance(id, userData string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.Instances[id]
	var authorized string
	for _, k := range m.Keys {
		if k.KeyName == inst.KeyName && k.Region == inst.Region {
			authorized = k.PublicKey
		}
	}
	if err := w.bootHost(m, inst, userData, authorized); err != nil {
		return fmt.Errorf("vpclink lab: instance %s: %w", inst.Name, err)
	}
	return w.Update(func(m *Model) error {
		if i := m.Instances[id]; i != nil {
			i.State = "running"
		}
		return w.apply(m)
	})
}

// LoginUser is the login user of the lab's image (the cloud image's
// default user): VPCLINK_LAB_LOGIN, default ubuntu.
func LoginUser() string {
	if u := os.Getenv("VPCLINK_LAB_LOGIN"); u != "" {
		return u
	}
	return "ubuntu"
}

func allocatePublicIP(m *Model) string {
	taken := map[string]bool{OperatorIP: true, StrangerIP: true, RepoIP: true}
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

func (w *World) associate(m *Model, e *EIP, instID string) error {
	inst := m.Instances[instID]
	if inst == nil || inst.Region != e.Region {
		return notFound("instance", instID)
	}
	v := m.VPCs[m.Subnets[inst.Subnet].VPC]
	if v.IGW == "" {
		return apiError("Gateway.NotAttached", "Network %s is not attached to any internet gateway", v.ID)
	}
	// Associating replaces the instance's current address, if any.
	for _, o := range m.EIPs {
		if o.Instance == inst.ID && o.ID != e.ID {
			o.Instance = ""
		}
	}
	e.Instance = inst.ID
	return w.apply(m)
}

// Update changes an AWS object in place; olds and news are its inputs.
func (w *World) UpdateObject(region, token, id, name string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	changed, replaces := awsmodel.Diff(token, olds, news)
	if len(replaces) > 0 {
		return nil, fmt.Errorf("vpclink lab: %s %s: %v cannot change in place", token, id, replaces)
	}
	publicIP := ""
	restart := false
	err := w.Update(func(m *Model) error {
		switch token {
		case awsmodel.InternetGateway:
			g := m.IGWs[id]
			if g == nil {
				return notFound("internetGateway", id)
			}
			if g.VPC != text(news, "vpcId") {
				if g.VPC != "" {
					if err := w.detach(m, g); err != nil {
						return err
					}
				}
				if v := text(news, "vpcId"); v != "" {
					return w.attach(m, g, v)
				}
			}
		case awsmodel.Route:
			rt := m.Routes[id]
			if rt == nil {
				return notFound("route", id)
			}
			if err := w.setRoute(m, rt, news); err != nil {
				return err
			}
		case awsmodel.RouteTableAssociation:
			a := m.Assocs[id]
			t := m.Tables[text(news, "routeTableId")]
			if a == nil || t == nil {
				return notFound("routeTable", text(news, "routeTableId"))
			}
			a.Table = t.ID
		case awsmodel.IngressRule, awsmodel.EgressRule:
			r := m.Rules[id]
			if r == nil {
				return notFound("securityGroupRule", id)
			}
			if err := setRule(m, r, news); err != nil {
				return err
			}
		case awsmodel.Instance:
			inst := m.Instances[id]
			if inst == nil {
				return notFound("instance", id)
			}
			for _, k := range changed {
				for _, s := range awsmodel.StopsInstance {
					restart = restart || k == s
				}
			}
			inst.SrcDstCheck = text(news, "sourceDestCheck") != "false"
			inst.Groups = list(news, "vpcSecurityGroupIds")
			inst.InstanceType = text(news, "instanceType")
		case awsmodel.EIP:
			e := m.EIPs[id]
			if e == nil {
				return notFound("allocation", id)
			}
			publicIP = e.PublicIP
			if text(news, "instance") == "" {
				e.Instance = ""
			} else if err := w.associate(m, e, text(news, "instance")); err != nil {
				return err
			}
		case awsmodel.VPC, awsmodel.Subnet, awsmodel.RouteTable, awsmodel.SecurityGroup, awsmodel.KeyPair:
			// Only tags and DNS attributes change in place: recorded by the engine.
		default:
			return fmt.Errorf("vpclink lab: resource type %s is not emulated", token)
		}
		return w.apply(m)
	})
	if err != nil {
		return nil, err
	}
	if restart {
		if err := w.restartInstance(id); err != nil {
			return nil, err
		}
	}
	return awsmodel.Outputs(token, id, name, news, region, publicIP), nil
}

// restartInstance stops and starts an instance, as the provider does to
// change its type or user data: every process of the host ends.
func (w *World) restartInstance(id string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.Instances[id]
	if err := w.stopHost(&inst.Host); err != nil {
		return err
	}
	return w.bootInstance(id, "")
}

func (w *World) detach(m *Model, g *IGW) error {
	for _, e := range m.EIPs {
		if inst := m.Instances[e.Instance]; inst != nil && m.Subnets[inst.Subnet].VPC == g.VPC {
			return apiError("DependencyViolation", "Network %s has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", g.VPC)
		}
	}
	return w.detachIGW(m, g)
}

// Delete deletes an AWS object; deleting one that is gone succeeds, as the
// provider treats NotFound on delete.
func (w *World) Delete(region, token, id string) error {
	var host *Host
	err := w.Update(func(m *Model) error {
		dependency := func(kind string) error {
			return apiError("DependencyViolation", "The %s '%s' has dependencies and cannot be deleted.", kind, id)
		}
		switch token {
		case awsmodel.VPC:
			v := m.VPCs[id]
			if v == nil {
				return nil
			}
			for _, s := range m.Subnets {
				if s.VPC == id {
					return dependency("vpc")
				}
			}
			for _, t := range m.Tables {
				if t.VPC == id {
					return dependency("vpc")
				}
			}
			for _, g := range m.Groups {
				if g.VPC == id {
					return dependency("vpc")
				}
			}
			if v.IGW != "" {
				return dependency("vpc")
			}
			killIn(v.NS)
			if _, err := run("ip", "netns", "del", v.NS); err != nil {
				return err
			}
			delete(m.VPCs, id)
		case awsmodel.InternetGateway:
			g := m.IGWs[id]
			if g == nil {
				return nil
			}
			if g.VPC != "" {
				if err := w.detach(m, g); err != nil {
					return err
				}
			}
			delete(m.IGWs, id)
		case awsmodel.Subnet:
			s := m.Subnets[id]
			if s == nil {
				return nil
			}
			for _, i := range m.Instances {
				if i.Subnet == id {
					return dependency("subnet")
				}
			}
			run("ip", "-n", m.VPCs[s.VPC].NS, "addr", "del", fmt.Sprintf("%s/%d", s.Gateway, s.Bits), "dev", bridgeName)
			delete(m.Subnets, id)
		case awsmodel.RouteTable:
			for _, a := range m.Assocs {
				if a.Table == id {
					return dependency("routeTable")
				}
			}
			delete(m.Tables, id)
		case awsmodel.Route:
			delete(m.Routes, id)
		case awsmodel.RouteTableAssociation:
			delete(m.Assocs, id)
		case awsmodel.SecurityGroup:
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
		case awsmodel.IngressRule, awsmodel.EgressRule:
			delete(m.Rules, id)
		case awsmodel.KeyPair:
			delete(m.Keys, id)
		case awsmodel.Instance:
			inst := m.Instances[id]
			if inst == nil {
				return nil
			}
			host = &inst.Host
			// The Elastic IP stays allocated, no longer associated.
			for _, e := range m.EIPs {
				if e.Instance == id {
					e.Instance = ""
				}
			}
			delete(m.Instances, id)
		case awsmodel.EIP:
			delete(m.EIPs, id)
		default:
			return fmt.Errorf("vpclink lab: resource type %s is not emulated", token)
		}
		return w.apply(m)
	})
	if err != nil || host == nil {
		return err
	}
	return w.removeHost(host)
}

// leftoverProbe lists what vpclink leaves on a host: after a correct
// teardown, nothing but the forwarding setting (printed last).
const leftoverProbe = `ls -A /etc/openvpn/vpclink /etc/sysctl.d/60-vpclink.conf /etc/systemd/system/vpclink-* 2>/dev/null; echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"`

func (w *World) removeHost(h *Host) error {
	// What the instance still held when AWS deleted it: tests read it to
	// see that the delete commands ran first.
	if out, err := h.Exec("sh", "-c", leftoverProbe); err == nil {
		pids, _ := run("ip", "netns", "pids", h.NetNS)
		for _, pid := range strings.Fields(pids) {
			if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "openvpn" {
				out += "openvpn process " + pid + "\n"
			}
		}
		os.MkdirAll(filepath.Join(w.Dir, "deleted"), 0o700)
		os.WriteFile(filepath.Join(w.Dir, "deleted", h.Name+".txt"), []byte(out), 0o600)
	}
	err := w.stopHost(h)
	if _, derr := run("ip", "netns", "del", h.NetNS); derr != nil && err == nil {
		err = derr
	}
	os.RemoveAll(h.Dir)
	return err
}

// ObjectExists reports whether an AWS object still exists (for refresh).
func (w *World) ObjectExists(token, id string) (bool, error) {
	m, err := w.Load()
	if err != nil {
		return false, err
	}
	return m.Has(token, id), nil
}
