package topology

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

//go:generate go run ./cmd/configschema

// Type is the type of a configuration key or field as Pulumi.yaml declares
// it (the CLI checks `pulumi config set` values against it) and as a
// component's input schema would.
type Type string

// The types of keys and fields. An array names its elements' type in
// KeyDoc.Items.
const (
	TypeString  Type = "string"
	TypeInteger Type = "integer"
	TypeBoolean Type = "boolean"
	TypeArray   Type = "array"
	TypeObject  Type = "object"
)

// KeyDoc defines one configuration key of the vpclink namespace, or one field
// of an element of vpclink:sites or vpclink:links. The schema built from
// KeyDocs is the one description of the configuration: Keys, SiteFields and
// LinkFields, the config section of Pulumi.yaml and the README's
// configuration tables are derived from it (`go generate
// ./components/topology` writes the two files, and a test fails when they
// differ), and InputSchema hands it to a component's input schema.
type KeyDoc struct {
	// Name is the key without namespace ("tunnelMtu") or the field's name
	// ("vpcCidr"), as written in the stack file.
	Name string
	// Type is the value's type; Items is the element type of an array
	// (TypeString or TypeObject), and Fields the fields of each element of
	// an array of objects, in the order Decode reports on them.
	Type   Type
	Items  Type
	Fields []KeyDoc
	// Required says the value must be given: there is no default.
	Required bool
	// Default is the value the program uses when the key is left out, when
	// one value says it (string, int, bool or []string, taken from the
	// Default* constants); nil otherwise.
	Default any
	// Unset says, for the reader, what leaving the key out means when no
	// single value does ("generated", "`vpclink:tunnelMode`"); "" when
	// Default says it or the key is required.
	Unset string
	// Secret says the value is a secret: set with `pulumi config set
	// --secret`, never shown in a message or an output in plain text.
	Secret bool
	// Allowed lists the accepted values where there is a fixed set, the
	// default first.
	Allowed []string
	// Description is one paragraph: what the value is, its units and shape,
	// the default, what is refused, and where facts come from. Plain text
	// with `code` spans, shown as it is in Pulumi.yaml and the README.
	Description string
	// ReadmeNote is appended to the description in the README only: links
	// to the README's sections, which mean nothing in Pulumi.yaml.
	ReadmeNote string
}

// Field returns the field of an array of objects by name.
func (k KeyDoc) Field(name string) (KeyDoc, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return KeyDoc{}, false
}

// InputSchema returns the definition of every configuration key, in the
// order of Keys, with the fields of sites and links nested: a copy the caller
// may change. A component's input schema (a Pulumi package's Annotate, for
// example) takes each input's description, default and secrecy from it, so
// that they stay those of the program's configuration:
//
//	mode, _ := topology.Lookup("links", "mode")
//	a.Describe(&l.Mode, mode.Description)
func InputSchema() []KeyDoc { return cloneDocs(schema) }

// Lookup returns the definition of a key ("tunnelMode") or, given more names,
// of a field inside it ("links", "mode").
func Lookup(key string, field ...string) (KeyDoc, bool) {
	var k KeyDoc
	var ok bool
	for _, d := range schema {
		if d.Name == key {
			k, ok = d, true
		}
	}
	for _, f := range field {
		if !ok {
			break
		}
		k, ok = k.Field(f)
	}
	if !ok {
		return KeyDoc{}, false
	}
	return cloneDocs([]KeyDoc{k})[0], true
}

func cloneDocs(docs []KeyDoc) []KeyDoc {
	if docs == nil {
		return nil
	}
	out := make([]KeyDoc, len(docs))
	for i, d := range docs {
		d.Fields = cloneDocs(d.Fields)
		d.Allowed = slices.Clone(d.Allowed)
		if list, ok := d.Default.([]string); ok {
			d.Default = slices.Clone(list)
		}
		out[i] = d
	}
	return out
}

// names returns the names of docs, in order.
func names(docs []KeyDoc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Name
	}
	return out
}

// shape renders the fields of an object for a message: the required ones,
// then the others with "?" (sites, name?, port?).
func shape(fields []KeyDoc) string {
	var req, opt []string
	for _, f := range fields {
		if f.Required {
			req = append(req, f.Name)
		} else {
			opt = append(opt, f.Name+"?")
		}
	}
	return strings.Join(append(req, opt...), ", ")
}

// tunnelNetworkStem is the first two octets of the default tunnel network,
// with their dots ("10.254."), for describing the addresses in it.
func tunnelNetworkStem() string {
	a := DefaultTunnelAddresses(0)[0]
	return a[:strings.LastIndex(a[:strings.LastIndex(a, ".")], ".")+1]
}

// maxMeshSites is the largest full mesh the default tunnel network holds.
func maxMeshSites() int {
	n := 2
	for (n+1)*n/2 <= MaxDefaultTunnels {
		n++
	}
	return n
}

// schema is the configuration's definition, in the order of Keys. Facts
// that the code owns (defaults, ranges, the tunnel network) are taken from
// its constants.
var schema = []KeyDoc{
	{
		Name: "sites", Type: TypeArray, Items: TypeObject, Required: true,
		Fields: siteSchema,
		Description: "The sites, at least two, one object each: a VPC in one region with two public subnets " +
			"sharing one route table, a VPN instance in the first and (unless terminal is false) a terminal " +
			"in the second. Unknown fields are refused with the nearest valid one suggested. See Pulumi.dev.yaml.",
	},
	{
		Name: "links", Type: TypeArray, Items: TypeObject,
		Fields: linkSchema,
		Unset:  "one link / hub links / mesh",
		Description: "Tunnels, one object each. Empty: one tunnel between two sites, with vpclink:hub the hub's " +
			"links to every other site, or else a full mesh of the sites. A value written explicitly (port: 0) " +
			"is checked, never replaced by its default; unknown fields are refused with the nearest valid one suggested.",
	},
	{
		Name: "instanceType", Type: TypeString, Default: DefaultInstanceType,
		Description: "EC2 instance type of every instance unless a site overrides it; the image matches its " +
			"architecture (`t4g.*` gets the arm64 image).",
	},
	{
		Name: "os", Type: TypeString, Default: DefaultOS, Allowed: OSes,
		Description: "Image of every instance unless a site sets its own os or pins an ami (a pinned ami wins): " +
			"ubuntu-24.04 (OpenVPN 2.6, what the lab and the walk-through proved) or ubuntu-26.04 (OpenVPN 2.7), " +
			"Canonical's newest image for the instance type's architecture. Changing it replaces the instances " +
			"with the new system's image.",
		ReadmeNote: "See [Image choice](#image-choice-vpclinkos-per-site-sitesios).",
	},
	{
		Name: "sshUser", Type: TypeString, Default: DefaultSSHUser,
		Description: "Login user of the image: ubuntu for Ubuntu, ec2-user for Amazon Linux 2023 " +
			"(an image pinned with a site's ami).",
	},
	{
		Name: "sshAllowedCidrs", Type: TypeArray, Items: TypeString, Default: DefaultSSHAllowedCIDRs,
		Description: "Networks that may reach port 22 of every instance. `pulumi up` itself connects over SSH, " +
			"so your own address must be among them. The default admits the whole internet (key authentication " +
			"only): narrow it to your address, e.g. [\"203.0.113.7/32\"].",
	},
	{
		Name: "sshPublicKey", Type: TypeString, Unset: "generated",
		Description: "OpenSSH public key for the instances (ssh-ed25519 AAAA... or ssh-rsa AAAA...). Give it " +
			"with sshPrivateKey, or neither and the program generates a key pair kept secret in the stack.",
	},
	{
		Name: "sshPrivateKey", Type: TypeString, Secret: true, Unset: "generated",
		Description: "Private key matching sshPublicKey (PEM or OpenSSH). Must be set with " +
			"`pulumi config set --secret sshPrivateKey < key`; a plain-text value is refused.",
	},
	{
		Name: "tunnelPort", Type: TypeInteger, Default: DefaultTunnelPort,
		Description: "UDP port of the first tunnel (1-65535); links without a port of their own take the next " +
			"free ones (link k of a mesh: tunnelPort+k).",
	},
	{
		Name: "tunnelMtu", Type: TypeInteger, Default: DefaultTunnelMTU,
		Description: fmt.Sprintf("MTU of the tunnel interface (%d-%d); TCP MSS is clamped to match.",
			openvpn.MinMTU, openvpn.MaxMTU),
	},
	{
		Name: "tunnelMode", Type: TypeString, Default: DefaultTunnelMode, Allowed: TunnelModes,
		Description: "Tunnel mode of every link without its own links[i].mode: tls (TLS 1.3, each end's " +
			"self-signed certificate pinned by the peer, the static key as tls-crypt key) or static " +
			"(the walk-through's pre-shared static key).",
		ReadmeNote: "See [Tunnel modes](#tunnel-modes-vpclinktunnelmode-per-link-linksimode).",
	},
	{
		Name: "postDeployCheck", Type: TypeBoolean, Default: DefaultPostDeployCheck,
		Description: "After both ends are configured, ping across each tunnel from each side and fail " +
			"`pulumi up` when no reply comes.",
	},
	{
		Name: "hub", Type: TypeString, Unset: "none",
		Description: "Name of the hub site of a hub-and-spoke topology. Without vpclink:links the default links " +
			"then join the hub to every other site (N-1 instead of a full mesh's N(N-1)/2), and every site reaches " +
			"every other through the hub where it has no link of its own to it. Empty: no hub.",
		ReadmeNote: "See [Many sites](#many-sites-hub-and-spoke-vpclinkhub).",
	},
	{
		Name: "summaryCidr", Type: TypeString, Unset: "none",
		Description: "One IPv4 network covering every site's VPC (e.g. 10.0.0.0/12; not 10.0.0.0/8, which holds the default tunnel network): each route table then has " +
			"one route for it instead of one per reached VPC, and each terminal two ICMP/traceroute rules instead " +
			"of two per VPC. Must not contain a tunnel address. Empty: a route per VPC.",
		ReadmeNote: "See [Many sites](#many-sites-hub-and-spoke-vpclinkhub).",
	},
	{
		Name: "highAvailability", Type: TypeBoolean, Default: DefaultHighAvailability,
		Description: "true gives every site (unless its own highAvailability says otherwise) a second VPN instance " +
			"in secondaryVpnSubnetCidr, and every link between two such sites a second tunnel between the second " +
			"instances. A monitor on each VPN instance probes the first tunnel every second and, after 2 lost " +
			"probes, moves the route table's routes for the peer's VPC to the second instance with ec2:ReplaceRoute " +
			"(an instance role allowed that on the site's route table only); back after failbackHoldDownSeconds. " +
			"Not with hub or summaryCidr yet.",
		ReadmeNote: "See [High availability](#high-availability-vpclinkhighavailability).",
	},
	{
		Name: "failbackHoldDownSeconds", Type: TypeInteger, Default: DefaultFailbackHoldDownSeconds,
		Description: fmt.Sprintf("With high availability: seconds (%d-%d) the first tunnel must answer every probe "+
			"before the routes move back to it, so that a flapping tunnel never moves them back and forth.",
			MinFailbackHoldDownSeconds, MaxFailbackHoldDownSeconds),
	},
}

// siteSchema defines the fields of one element of vpclink:sites.
var siteSchema = []KeyDoc{
	{
		Name: "name", Type: TypeString, Required: true,
		Description: "Identifies the site in resource names, links and outputs: 1-20 lowercase letters, " +
			"digits or '-', not starting or ending with '-'; unique among the sites.",
	},
	{
		Name: "region", Type: TypeString, Required: true,
		Description: "AWS region of the site, e.g. eu-west-1. Checked by shape only: AWS adds regions " +
			"(the SDK's list lacks ap-east-2).",
	},
	{
		Name: "vpcCidr", Type: TypeString, Required: true,
		Description: "IPv4 network of the site's VPC, e.g. 10.0.0.0/16, written canonically (no host bits): " +
			"/16 to /28 (AWS's limits), overlapping no other site's VPC and holding no tunnel address.",
	},
	{
		Name: "vpnSubnetCidr", Type: TypeString, Required: true,
		Description: "Public subnet of the VPN instance, e.g. 10.0.0.0/24: inside vpcCidr, /28 or larger, " +
			"disjoint from terminalSubnetCidr.",
	},
	{
		Name: "terminalSubnetCidr", Type: TypeString, Required: true,
		Description: "Public subnet of the terminal, e.g. 10.0.1.0/24: inside vpcCidr, /28 or larger, " +
			"disjoint from vpnSubnetCidr. Created also when terminal is false.",
	},
	{
		Name: "vpnPrivateIp", Type: TypeString, Required: true,
		Description: "Fixed private address of the VPN instance, e.g. 10.0.0.10: inside vpnSubnetCidr and " +
			"not one AWS reserves (the subnet's first four addresses and its last).",
	},
	{
		Name: "terminalPrivateIp", Type: TypeString, Unset: "none (needed with a terminal)",
		Description: "Fixed private address of the terminal, e.g. 10.0.1.30: inside terminalSubnetCidr and " +
			"not one AWS reserves. Required unless terminal is false.",
	},
	{
		Name: "terminal", Type: TypeBoolean, Default: DefaultTerminal,
		Description: "false skips the site's terminal instance (its subnet is still created).",
	},
	{
		Name: "availabilityZone", Type: TypeString, Unset: "first zone with the type",
		Description: "Zone of both subnets, e.g. eu-west-1b: an available zone of the site's region that offers " +
			"the site's instance type, asked of the region's API before anything is created. Left out: the first " +
			"such zone in name order, chosen when the subnets are created and kept afterwards. Setting or " +
			"changing it replaces the subnets and instances, deleting first.",
	},
	{
		Name: "instanceType", Type: TypeString, Unset: "`vpclink:instanceType`",
		Description: "EC2 instance type of the site's instances instead of vpclink:instanceType; the image " +
			"matches its architecture.",
	},
	{
		Name: "ami", Type: TypeString, Unset: "newest image of `os`",
		Description: "Pins an image id (e.g. ami-0123456789abcdef0), used as it is, instead of the newest image " +
			"of os; sshUser must be its login user. Not with os on the same site. Pinning another image or " +
			"changing it replaces the instances.",
	},
	{
		Name: "os", Type: TypeString, Allowed: OSes, Unset: "`vpclink:os` (none with `ami`)",
		Description: "The site's image choice instead of vpclink:os: ubuntu-24.04 or ubuntu-26.04. Refused " +
			"beside ami on the same site, where it would have no effect.",
	},
	{
		Name: "highAvailability", Type: TypeBoolean, Unset: "`vpclink:highAvailability`",
		Description: "The site's own choice instead of vpclink:highAvailability. A link gets a second tunnel only " +
			"when both its sites have high availability.",
	},
	{
		Name: "secondaryVpnSubnetCidr", Type: TypeString, Unset: "none (needed with high availability)",
		Description: "Public subnet of the second VPN instance, e.g. 10.0.2.0/24: inside vpcCidr, /28 or larger, " +
			"disjoint from the other two subnets, sharing their route table. Required with high availability, " +
			"refused without.",
	},
	{
		Name: "secondaryVpnPrivateIp", Type: TypeString, Unset: "none (needed with high availability)",
		Description: "Fixed private address of the second VPN instance, e.g. 10.0.2.10: inside " +
			"secondaryVpnSubnetCidr and not one AWS reserves. Required with high availability, refused without.",
	},
	{
		Name: "secondaryAvailabilityZone", Type: TypeString, Unset: "another zone with the type",
		Description: "Zone of the second VPN instance's subnet, checked like availabilityZone. Left out: the first " +
			"zone in name order, other than the first subnets', that offers the instance type (the same zone when " +
			"the region has no other), chosen at creation and kept.",
	},
}

// linkSchema defines the fields of one element of vpclink:links.
var linkSchema = []KeyDoc{
	{
		Name: "name", Type: TypeString, Unset: "`<site>-<site>`",
		Description: "Identifies the link in resource names and outputs: 1-41 lowercase letters, digits or " +
			"'-', not starting or ending with '-'; unique among the links. Left out: the two site names joined " +
			"by '-'.",
	},
	{
		Name: "sites", Type: TypeArray, Items: TypeString, Required: true,
		Description: "The two ends, by site name; the first uses key direction 0 (and is the TLS server). " +
			"One link per pair of sites.",
	},
	{
		Name: "port", Type: TypeInteger, Unset: "next free from `tunnelPort`",
		Description: "UDP port of the tunnel on both VPN instances (1-65535), used by no other link of either " +
			"site. Left out: the next port from vpclink:tunnelPort that no other link uses (link k of a mesh: " +
			"tunnelPort+k).",
	},
	{
		Name: "tunnelAddresses", Type: TypeArray, Items: TypeString,
		Unset: fmt.Sprintf("a /30 of %s", DefaultTunnelNetwork),
		Description: fmt.Sprintf("The point-to-point addresses of the two ends, in the order of sites: two "+
			"unicast IPv4 addresses outside every VPC and outside 169.254.169.0/24 (where AWS serves "+
			"instances). Left out: the next free /30 of %[1]s (link k < 256: %[2]sk.1/.2; then "+
			"%[2]s(k%%256).5/.6, and so on: up to %[3]d links, a mesh of %[4]d sites).",
			DefaultTunnelNetwork, tunnelNetworkStem(), MaxDefaultTunnels, maxMeshSites()),
	},
	{
		Name: "mode", Type: TypeString, Allowed: TunnelModes, Unset: "`vpclink:tunnelMode`",
		Description: "Tunnel mode of this link instead of vpclink:tunnelMode: tls or static.",
		ReadmeNote:  "See [Tunnel modes](#tunnel-modes-vpclinktunnelmode-per-link-linksimode).",
	},
	{
		Name: "secondaryPort", Type: TypeInteger, Unset: fmt.Sprintf("port + %d", SecondaryPortOffset),
		Description: fmt.Sprintf("With high availability at both sites: UDP port of the second tunnel on both "+
			"second VPN instances (1-65535), used by no other second tunnel of either site. Left out: port + %d.",
			SecondaryPortOffset),
	},
	{
		Name: "secondaryTunnelAddresses", Type: TypeArray, Items: TypeString,
		Unset: fmt.Sprintf("a /30 of %s", DefaultTunnelNetwork),
		Description: fmt.Sprintf("With high availability at both sites: the second tunnel's point-to-point "+
			"addresses, in the order of sites, checked like tunnelAddresses. Left out: for link k < 256 "+
			"%[1]sk.129/.130, a /30 of %[2]s that adding links never moves.", tunnelNetworkStem(), DefaultTunnelNetwork),
	},
}
