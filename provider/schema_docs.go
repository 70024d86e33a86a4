package main

import (
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// doc is the schema text of one input or output of vpclink:index:Network:
// its description and, where the provider fills one in, its default.
type doc struct {
	Description string
	// Default is the schema default (nil: none, or one that depends on
	// other inputs, which Description then says).
	Default any
}

// docs holds every description and default of the package's schema, keyed
// by path: "sites", "sites[].vpcCidr", "links[].port", and "out:sites" for
// outputs. The inputs' come from the configuration's one definition,
// topology.InputSchema (which also writes Pulumi.yaml's config section and
// the README's tables); the component's, its types' and its outputs' are
// written here. A test checks that every input and output of the schema
// has a description and that nothing here goes unused.
var docs = inputDocs(map[string]doc{
	// The component and its nested types.
	"Network": {Description: "A set of VPC sites in AWS regions joined by OpenVPN tunnels (what the vpclink program deploys, as one component). Inputs are the program's stack configuration as plain data; values left out take the program's defaults."},
	"Site":    {Description: "One VPC in one region: two public subnets sharing one route table, a VPN instance in the first and (optionally) a terminal instance in the second."},
	"Link":    {Description: "One OpenVPN point-to-point tunnel between two sites."},

	// Outputs: what the program exports.
	"out:sites":         {Description: "Per site name: region, vpcId, vpcCidr, availabilityZone, routeTableId, vpnInstanceId, vpnNetworkInterfaceId, vpnPrivateIp, vpnPublicIp, sshVpn (an ssh command), vpnKnownHost (the pinned host key as a known_hosts line) and, with a terminal, terminalPrivateIp, terminalPublicIp, sshTerminal, terminalKnownHost; with high availability also secondaryVpnInstanceId, secondaryVpnNetworkInterfaceId, secondaryVpnPrivateIp, secondaryVpnPublicIp, secondaryAvailabilityZone, sshSecondaryVpn, secondaryVpnKnownHost and monitorRoleArn."},
	"out:links":         {Description: "Per link name: sites, port, tunnelAddresses and dataChannelOffload (per site: whether OpenVPN offloads the data channel, and why); with a second tunnel (high availability at both sites) also secondaryPort, secondaryTunnelAddresses and secondaryDataChannelOffload."},
	"out:tunnelCheck":   {Description: "Per link name: the post-deploy ping check's result from each end (empty with postDeployCheck false); a second tunnel's under <link>-secondary."},
	"out:transitCheck":  {Description: "With a hub and the post-deploy check: per site, one line per site it reaches through the hub (empty otherwise)."},
	"out:sshPublicKey":  {Description: "The SSH public key installed on every instance (authorized_keys line)."},
	"out:sshPrivateKey": {Description: "The generated SSH private key (OpenSSH PEM) when the component generated the key pair (empty with sshPublicKey given). Secret."},
	"out:hub":           {Description: "The hub site (empty without one)."},
})

// inputDocs adds to own the description and default of every input: each
// configuration key and each field of a site or link, as topology defines
// them. Descriptions name other inputs as the component calls them (no
// "vpclink:" namespace); defaults are kept where the schema can hold them
// (a string, number or boolean).
func inputDocs(own map[string]doc) map[string]doc {
	add := func(path string, k topology.KeyDoc) {
		d := doc{Description: strings.ReplaceAll(k.Description, topology.ConfigNamespace+":", "")}
		switch k.Default.(type) {
		case string, int, bool:
			d.Default = k.Default
		}
		own[path] = d
	}
	for _, k := range topology.InputSchema() {
		add(k.Name, k)
		for _, f := range k.Fields {
			add(k.Name+"[]."+f.Name, f)
		}
	}
	return own
}
