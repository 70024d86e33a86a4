package main

import "github.com/vpclink/pulumi-vpc-openvpn/components/topology"

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
// outputs. It is the ONE place they are written; once the topology package
// exposes its own schema definition, this map is meant to be built from
// it. A test checks that every input and output of the schema has a
// description here and that nothing here goes unused.
var docs = map[string]doc{
	// The component and its nested types.
	"Network": {Description: "A set of VPC sites in AWS regions joined by OpenVPN tunnels (what the vpclink program deploys, as one component). Inputs are the program's stack configuration as plain data; values left out take the program's defaults."},
	"Site":    {Description: "One VPC in one region: two public subnets sharing one route table, a VPN instance in the first and (optionally) a terminal instance in the second."},
	"Link":    {Description: "One OpenVPN point-to-point tunnel between two sites."},

	// Inputs: the stack configuration's keys.
	"sites":           {Description: "The sites (VPCs) to join, at least two."},
	"links":           {Description: "The tunnels. Default: one link when there are exactly two sites, the hub's link to every other site with `hub`, a full mesh otherwise."},
	"hub":             {Description: "The hub site of a hub-and-spoke topology: without links, the default links join the hub to every other site, and every site reaches every other through the hub where it has no link of its own to it."},
	"summaryCidr":     {Description: "One IPv4 network covering every site's VPC and no tunnel address: each route table then holds one route for it instead of one per reached VPC, and each terminal admits ICMP and traceroute from it with two rules."},
	"tunnelMode":      {Description: "The tunnel mode of every link unless the link says otherwise: `tls` (TLS 1.3 with pinned self-signed certificates and the static key as tls-crypt key) or `static` (a pre-shared static key).", Default: topology.DefaultTunnelMode},
	"tunnelMtu":       {Description: "The MTU of the tunnel interfaces.", Default: topology.DefaultTunnelMTU},
	"tunnelPort":      {Description: "The first UDP port handed to links without a port of their own.", Default: topology.DefaultTunnelPort},
	"instanceType":    {Description: "The EC2 instance type of every instance without a site-level instanceType.", Default: topology.DefaultInstanceType},
	"os":              {Description: "The image of every site without its own os or ami: `ubuntu-24.04` (OpenVPN 2.6) or `ubuntu-26.04` (OpenVPN 2.7).", Default: topology.DefaultOS},
	"sshUser":         {Description: "The image's login user, used to configure the instances over SSH.", Default: topology.DefaultSSHUser},
	"sshAllowedCidrs": {Description: "The IPv4 networks that may reach port 22 of every instance; the machine running `pulumi up` must be among them. Default: 0.0.0.0/0 (key-only logins); narrow it to your own address."},
	"sshPublicKey":    {Description: "An operator-supplied SSH public key (authorized_keys line), with sshPrivateKey; both or neither. With neither, the component generates a key pair."},
	"sshPrivateKey":   {Description: "The private half of sshPublicKey (OpenSSH PEM). Secret."},
	"postDeployCheck": {Description: "Run the cross-site ping checks after both ends of every tunnel are configured.", Default: true},

	// Site fields.
	"sites[].name":               {Description: "The site's name, used in resource names, links and outputs: lowercase letters, digits and '-', at most 20 characters."},
	"sites[].region":             {Description: "The AWS region, e.g. eu-west-1."},
	"sites[].vpcCidr":            {Description: "The VPC's IPv4 network, e.g. 10.0.0.0/16."},
	"sites[].vpnSubnetCidr":      {Description: "The subnet of the VPN instance, inside vpcCidr."},
	"sites[].terminalSubnetCidr": {Description: "The subnet of the terminal instance, inside vpcCidr."},
	"sites[].vpnPrivateIp":       {Description: "The fixed private address of the VPN instance, inside vpnSubnetCidr."},
	"sites[].terminalPrivateIp":  {Description: "The fixed private address of the terminal instance, inside terminalSubnetCidr."},
	"sites[].terminal":           {Description: "Whether the site gets a terminal instance.", Default: true},
	"sites[].availabilityZone":   {Description: "Pins both subnets to one availability zone (default: AWS's choice)."},
	"sites[].instanceType":       {Description: "The EC2 instance type of this site's instances (default: the stack-wide instanceType)."},
	"sites[].ami":                {Description: "Pins an image id instead of looking up the newest image of os; not together with os."},
	"sites[].os":                 {Description: "The image choice of this site, `ubuntu-24.04` or `ubuntu-26.04` (default: the stack-wide os)."},

	// Link fields.
	"links[].name":            {Description: "The link's name (default: `<siteA>-<siteB>`)."},
	"links[].sites":           {Description: "The two sites the link joins; the first end uses key direction 0."},
	"links[].port":            {Description: "The UDP port on both VPN instances (default: the next free port from tunnelPort)."},
	"links[].tunnelAddresses": {Description: "The point-to-point addresses of the two ends, in the order of sites (default: the next free /30 of 10.254.0.0/16)."},
	"links[].mode":            {Description: "The tunnel mode of this link, `tls` or `static` (default: the stack-wide tunnelMode)."},

	// Outputs: what the program exports.
	"out:sites":         {Description: "Per site name: region, vpcId, vpcCidr, availabilityZone, routeTableId, vpnInstanceId, vpnNetworkInterfaceId, vpnPrivateIp, vpnPublicIp, sshVpn (an ssh command), vpnKnownHost (the pinned host key as a known_hosts line) and, with a terminal, terminalPrivateIp, terminalPublicIp, sshTerminal, terminalKnownHost."},
	"out:links":         {Description: "Per link name: sites, port, tunnelAddresses and dataChannelOffload (per site: whether OpenVPN offloads the data channel, and why)."},
	"out:tunnelCheck":   {Description: "Per link name: the post-deploy ping check's result from each end (empty with postDeployCheck false)."},
	"out:transitCheck":  {Description: "With a hub and the post-deploy check: per site, one line per site it reaches through the hub (empty otherwise)."},
	"out:sshPublicKey":  {Description: "The SSH public key installed on every instance (authorized_keys line)."},
	"out:sshPrivateKey": {Description: "The generated SSH private key (OpenSSH PEM) when the component generated the key pair (empty with sshPublicKey given). Secret."},
	"out:hub":           {Description: "The hub site (empty without one)."},
}
