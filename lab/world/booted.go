package world

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
)

// Booted hosts: an instance is a container booting real systemd and
// cloud-init (systemd-nspawn) from one of the lab's Debian images, in the
// instance's network namespace. cloud-init reads the user data the program
// gave the instance (NoCloud); the instance's key pair arrives as the
// meta-data's public-keys, for the image's default user, as EC2 does.

// Images tells booted hosts which image each region runs: the driver
// records, per region, the overlay lower dirs of its flavour.
func (m *Model) SetImage(region, flavour string, lower []string) {
	m.Extra["flavour:"+region] = flavour
	m.Extra["lower:"+region] = strings.Join(lower, ":")
}

// Flavour is the image a region's instances boot ("" before the lab set
// one: instances of such a region cannot start).
func (m *Model) Flavour(region string) string { return m.Extra["flavour:"+region] }

// defaultUserConfig makes the image's default user the AMI's login user
// (Ubuntu's images: "ubuntu", passwordless sudo), as cloud.cfg of the AMI.
const defaultUserConfig = `# vpclink lab: the emulated AMI's default user, given the key pair's key.
system_info:
  default_user:
    name: %s
    lock_passwd: true
    gecos: Cloud image user
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
users: [default]
`

// aptSource is the emulated AMI's package mirror: the lab's repository on
// the emulated internet (lab hosts never reach the real one).
func aptSource() string {
	return "deb [trusted=yes] http://" + RepoIP + "/ ./\n"
}

func (w *World) bootHost(m *Model, inst *Instance, userData, authorized string) error {
	h := &inst.Host
	if m.Flavour(inst.Region) == "" {
		return fmt.Errorf("vpclink lab: no image for region %s (the lab sets one per region of the stack file)", inst.Region)
	}
	lower := strings.Split(m.Extra["lower:"+inst.Region], ":")
	upper := filepath.Join(h.Dir, "upper")
	files := map[string]string{
		"etc/cloud/cloud.cfg.d/90-vpclink-lab-user.cfg": fmt.Sprintf(defaultUserConfig, LoginUser()),
		"etc/apt/sources.list.d/vpclink-lab.list":       aptSource(),
	}
	if err := w.endpointFiles(files, lower); err != nil {
		return err
	}
	for p, content := range files {
		full := filepath.Join(upper, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	seed := filepath.Join(upper, "var/lib/cloud/seed/nocloud/user-data")
	if old, err := os.ReadFile(seed); err == nil && userData == "" {
		userData = string(old) // a start after a stop: the same user data
	}
	if strings.TrimSpace(userData) == "" {
		userData = "#cloud-config\n{}\n"
	}
	meta := fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\npublic-keys:\n  - %s\n", inst.ID, inst.Name, authorized)
	_, err := boot.Start(context.Background(), boot.Config{
		Name: w.Prefix + "-" + strings.TrimPrefix(h.NetNS, w.Prefix+"-"), NetNS: h.NetNS,
		Lower: lower, StateDir: h.Dir, UserData: userData, MetaData: meta,
	})
	return err
}

// hostsTemplate is cloud-init's template of /etc/hosts on Debian
// (manage_etc_hosts regenerates /etc/hosts from it at every boot).
const hostsTemplate = "etc/cloud/templates/hosts.debian.tmpl"

// endpointFiles adds what makes a host use the lab's EC2 endpoint: every
// ec2.<region>.amazonaws.com resolves to APIIP (in cloud-init's hosts
// template, so it survives each boot's rewrite of /etc/hosts) and the lab's
// CA is trusted (in the system bundle curl and OpenSSL read, and in
// /usr/local/share/ca-certificates, so update-ca-certificates keeps it).
// Nothing when the lab has no CA (a world made before the endpoints).
func (w *World) endpointFiles(files map[string]string, lower []string) error {
	ca, err := os.ReadFile(w.CACertFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	fromImage := func(p string) (string, error) {
		for _, l := range lower {
			if b, err := os.ReadFile(filepath.Join(l, p)); err == nil {
				return string(b), nil
			}
		}
		return "", fmt.Errorf("vpclink lab: the image has no /%s", p)
	}
	tmpl, err := fromImage(hostsTemplate)
	if err != nil {
		return err
	}
	var hosts []string
	for _, r := range awsmodel.Regions {
		hosts = append(hosts, awsmodel.EC2Host(r))
	}
	files[hostsTemplate] = strings.TrimRight(tmpl, "\n") + "\n\n# vpclink lab: the emulated AWS API endpoints\n" + APIIP + " " + strings.Join(hosts, " ") + "\n"
	bundle, err := fromImage("etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return err
	}
	files["etc/ssl/certs/ca-certificates.crt"] = strings.TrimRight(bundle, "\n") + "\n" + string(ca)
	files["usr/local/share/ca-certificates/vpclink-lab.crt"] = string(ca)
	return nil
}

// Reboot reboots an instance's host (as `sudo reboot` on it would) and
// waits until systemd is running again.
func (w *World) Reboot(ctx context.Context, name string) error {
	m, err := w.Load()
	if err != nil {
		return err
	}
	inst := m.InstanceByName(name)
	if inst == nil {
		return fmt.Errorf("lab: no booted instance %s", name)
	}
	_, err = boot.Reboot(ctx, inst.Host.Dir)
	return err
}

// Memory is the memory of an instance's host.
func (h *Host) Memory() (boot.Mem, error) { return boot.Memory(h.Dir) }
