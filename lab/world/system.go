package world

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// system is what the lab changes on this machine for the AWS objects:
// namespaces, links, nft rules and booted hosts. The kinds check AWS's rules
// against the model first and then call the system; the unit tests give the
// world a recorder instead, so the rules run without root.
type system interface {
	// addVPC creates a VPC's router namespace and bridge; removeVPC stops
	// what runs in it and deletes it.
	addVPC(v *VPC) error
	removeVPC(v *VPC) error
	// linkIGW links a VPC's router to the internet (port: the internet
	// side's link name); unlinkIGW cuts it.
	linkIGW(v *VPC, port string) error
	unlinkIGW(v *VPC) error
	// addGateway gives the VPC router a subnet's gateway address.
	addGateway(v *VPC, s *Subnet) error
	removeGateway(v *VPC, s *Subnet)
	// plug creates an instance's namespace and interface and sets its MAC.
	plug(inst *Instance, s *Subnet, v *VPC) error
	// boot starts an instance's host; stop powers it off; remove deletes
	// it with its namespace.
	boot(m *Model, inst *Instance, userData, authorized string) error
	stop(h *Host) error
	remove(h *Host) error
	// apply regenerates every rule from the model.
	apply(m *Model) error
	// link takes a stopped instance's interface down, or up again.
	link(inst *Instance, up bool) error
}

// sys is the world's system: the machine unless a test set another.
func (w *World) system() system {
	if w.sys != nil {
		return w.sys
	}
	return machine{w}
}

// machine is the real system: commands run on this host, as root.
type machine struct{ w *World }

func (s machine) addVPC(v *VPC) error { return s.w.addVPCNetwork(v) }

func (s machine) removeVPC(v *VPC) error {
	killIn(v.NS)
	_, err := run("ip", "netns", "del", v.NS)
	return err
}

func (s machine) linkIGW(v *VPC, port string) error { return s.w.linkIGW(v, port) }
func (s machine) unlinkIGW(v *VPC) error            { return s.w.unlinkIGW(v) }

func (s machine) addGateway(v *VPC, sn *Subnet) error {
	_, err := run("ip", "-n", v.NS, "addr", "add", fmt.Sprintf("%s/%d", sn.Gateway, sn.Bits), "dev", bridgeName)
	return err
}

func (s machine) removeGateway(v *VPC, sn *Subnet) {
	run("ip", "-n", v.NS, "addr", "del", fmt.Sprintf("%s/%d", sn.Gateway, sn.Bits), "dev", bridgeName)
}

func (s machine) plug(inst *Instance, sn *Subnet, v *VPC) error {
	return s.w.plugInstance(inst, sn, v)
}

func (s machine) boot(m *Model, inst *Instance, userData, authorized string) error {
	return s.w.bootHost(m, inst, userData, authorized)
}

func (s machine) stop(h *Host) error   { return s.w.stopHost(h) }
func (s machine) remove(h *Host) error { return s.w.removeHost(h) }
func (s machine) apply(m *Model) error { return s.w.apply(m) }
func (s machine) link(inst *Instance, up bool) error {
	return s.w.link(inst, up)
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
