package world

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Lab verbs for the HA tests (issue 16): stopping and starting an instance
// as EC2 does, and cutting the emulated internet between two addresses.

// findInstance finds an instance by resource name or id.
func (m *Model) findInstance(nameOrID string) *Instance {
	if i := m.Instances[nameOrID]; i != nil {
		return i
	}
	return m.InstanceByName(nameOrID)
}

// StopInstance stops an instance (by resource name or id) as EC2's
// StopInstances does: its state becomes stopped, its host powers off and
// its interface goes down, while the instance keeps its ENI, MAC, private
// address and Elastic IP. Routes to its interface become blackholes (the
// VPC drops what they carry) until it starts again. Stopping a stopped
// instance does nothing.
func (w *World) StopInstance(nameOrID string) error {
	var inst *Instance
	err := w.Update(func(m *Model) error {
		inst = m.findInstance(nameOrID)
		if inst == nil {
			return notFound("instance", nameOrID)
		}
		if inst.State == "stopped" {
			return nil
		}
		if inst.State != "running" {
			return apiError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be stopped.", inst.ID)
		}
		inst.State = "stopped"
		return w.system().apply(m)
	})
	if err != nil || inst == nil {
		return err
	}
	sys := w.system()
	if err := sys.stop(&inst.Host); err != nil {
		return fmt.Errorf("lab: stop %s: %w", inst.Name, err)
	}
	return sys.link(inst, false)
}

// StartInstance starts a stopped instance (by resource name or id): its
// interface comes up with the same address and MAC, its host boots with
// the same user data (cloud-init's per-instance modules do not run again)
// and the routes to it carry traffic again once it is running.
func (w *World) StartInstance(nameOrID string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.findInstance(nameOrID)
	if inst == nil {
		return notFound("instance", nameOrID)
	}
	if inst.State == "running" {
		return nil
	}
	if inst.State != "stopped" {
		return apiError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", inst.ID)
	}
	if err := w.system().link(inst, true); err != nil {
		return err
	}
	// bootInstance marks it running and applies the rules.
	return w.bootInstance(inst.ID, "")
}

// link brings a stopped instance's interface down, or a starting one's up
// with its default route (taken away with the link).
func (w *World) link(inst *Instance, up bool) error {
	ns := inst.Host.NetNS
	if !up {
		_, err := run("ip", "-n", ns, "link", "set", "eth0", "down")
		return err
	}
	var r must
	r.run("ip", "-n", ns, "link", "set", "eth0", "up")
	out := r.run("ip", "-n", ns, "-4", "route", "show", "default")
	if r.err == nil && strings.TrimSpace(out) == "" {
		m, err := w.Load()
		if err != nil {
			return err
		}
		if s := m.Subnets[inst.Subnet]; s != nil {
			r.run("ip", "-n", ns, "route", "replace", "default", "via", s.Gateway)
		}
	}
	return r.err
}

// cutKey is the fault key of a cut path, the same for both orders.
func cutKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "cut:" + a + "," + b
}

// CutPath cuts the emulated internet between two public addresses (Elastic
// IPs or the lab's own hosts), both directions: every packet between them
// is dropped in the internet namespace. RestorePath undoes it.
func (w *World) CutPath(publicA, publicB string) error { return w.setCut(publicA, publicB, true) }

// RestorePath restores the path CutPath cut.
func (w *World) RestorePath(publicA, publicB string) error { return w.setCut(publicA, publicB, false) }

func (w *World) setCut(a, b string, cut bool) error {
	for _, ip := range []string{a, b} {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("lab: %q is not an IPv4 address", ip)
		}
	}
	return w.Update(func(m *Model) error {
		if cut {
			m.Faults[cutKey(a, b)] = true
		} else {
			delete(m.Faults, cutKey(a, b))
		}
		return w.system().apply(m)
	})
}

// applyCuts writes the internet namespace's drop rules for the cut paths.
func (w *World) applyCuts(m *Model) error {
	var keys []string
	for k, on := range m.Faults {
		if on && strings.HasPrefix(k, "cut:") {
			keys = append(keys, strings.TrimPrefix(k, "cut:"))
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("table bridge vpclab_cut {}\ndelete table bridge vpclab_cut\n")
	if len(keys) > 0 {
		b.WriteString("table bridge vpclab_cut {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n")
		for _, k := range keys {
			x, y, _ := strings.Cut(k, ",")
			fmt.Fprintf(&b, "    ether type ip ip saddr %s ip daddr %s counter drop comment \"cut path\"\n", x, y)
			fmt.Fprintf(&b, "    ether type ip ip saddr %s ip daddr %s counter drop comment \"cut path\"\n", y, x)
		}
		b.WriteString("  }\n}\n")
	}
	if _, err := runIn([]byte(b.String()), "ip", "netns", "exec", w.NS("inet"), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("lab: cut paths: %w", err)
	}
	return nil
}
