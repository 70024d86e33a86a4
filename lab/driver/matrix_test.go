package driver

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// A preview of a change that replaces a subnet (and its instance) and
// updates the setups, trimmed to what ParsePreview reads.
const previewReplace = `{
  "config": {"vpclink:tunnelMtu": "1400"},
  "steps": [
    {"op": "same", "urn": "urn:pulumi:dev::vpclink::pulumi:pulumi:Stack::vpclink-dev"},
    {"op": "create-replacement", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/subnet:Subnet::a-vpn-subnet"},
    {"op": "replace", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/subnet:Subnet::a-vpn-subnet"},
    {"op": "create-replacement", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/instance:Instance::a-vpn"},
    {"op": "replace", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/instance:Instance::a-vpn"},
    {"op": "update", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Link$command:remote:Command::a-b-a-setup"},
    {"op": "update", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Link$command:remote:Command::a-b-b-setup"},
    {"op": "create", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/routeTableAssociation:RouteTableAssociation::x"},
    {"op": "delete", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/instance:Instance::b-terminal"},
    {"op": "delete", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/eip:Eip::b-terminal-eip"},
    {"op": "delete-replaced", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/instance:Instance::a-vpn"},
    {"op": "delete-replaced", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/subnet:Subnet::a-vpn-subnet"},
    {"op": "replace", "urn": "urn:pulumi:dev::vpclink::vpclink:index:Site$aws:ec2/routeTableAssociation:RouteTableAssociation::a-vpn-subnet"}
  ],
  "duration": 3000000000,
  "changeSummary": {"same": 60, "replace": 3, "update": 2, "create": 1, "delete": 2}
}`

// A refused configuration as `pulumi preview --json` reports it (seen in
// the lab), after a line the CLI printed before the JSON.
const previewRefused = `Previewing update (dev):
{
  "config": {},
  "steps": [{"op": "same", "urn": "urn:pulumi:dev::vpclink::pulumi:pulumi:Stack::vpclink-dev"}],
  "diagnostics": [{"message": "error: an unhandled error occurred: program failed: \n1 error occurred:\n\t* invalid configuration; no resource was created, changed or deleted:\nconfig vpclink:sites[0].vpnPrivateIp = \"10.0.0.1\": is reserved by AWS in subnet 10.0.0.0/24 (the first four addresses and the last one are)\n\n\n", "severity": "error"},
                   {"message": "a warning", "severity": "warning"}],
  "changeSummary": {"same": 1}
}`

func TestParsePreview(t *testing.T) {
	p, err := ParsePreview([]byte(previewReplace))
	if err != nil {
		t.Fatal(err)
	}
	// The subnet and its association share a name: both count.
	if got := strings.Join(p.Replaced, ","); got != "a-vpn,a-vpn-subnet (RouteTableAssociation),a-vpn-subnet (Subnet)" {
		t.Errorf("replaced %q", got)
	}
	if p.Updated != 2 || p.Created != 1 || p.Deleted != 2 || p.Error != "" {
		t.Errorf("updated %d created %d deleted %d error %q, want 2 1 2 none", p.Updated, p.Created, p.Deleted, p.Error)
	}
	if p.Ops["b-terminal"] != "delete" || p.Ops["a-vpn"] != "replace" || p.Ops["vpclink-dev"] != "" {
		t.Errorf("ops %v", p.Ops)
	}

	p, err = ParsePreview([]byte(previewRefused))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ops) != 0 || !strings.Contains(p.Error, "vpclink:sites[0].vpnPrivateIp") || strings.Contains(p.Error, "a warning") {
		t.Errorf("refused preview: ops %v, error %q", p.Ops, p.Error)
	}
	want := `config vpclink:sites[0].vpnPrivateIp = "10.0.0.1": is reserved by AWS in subnet 10.0.0.0/24 (the first four addresses and the last one are)`
	if got := FirstError(p.Error); got != want {
		t.Errorf("first error of the refusal:\n got %q\nwant %q", got, want)
	}

	if _, err := ParsePreview([]byte("error: no stack named 'dev' found\n")); err == nil {
		t.Error("output without JSON parsed")
	}
}

func TestFirstError(t *testing.T) {
	up := `Updating (dev):
    pulumi:pulumi:Stack vpclink-dev running
 +- aws:ec2:Subnet a-vpn-subnet creating replacement (0s) error: creating EC2 Subnet: InvalidSubnet.Conflict
    pulumi:pulumi:Stack vpclink-dev  1 error
Diagnostics:
  aws:ec2:Subnet (a-vpn-subnet):
    error: creating EC2 Subnet: InvalidSubnet.Conflict: The CIDR '10.0.0.0/24' conflicts with another subnet
    	status code: 400

  pulumi:pulumi:Stack (vpclink-dev):
    error: update failed

Resources:
    68 unchanged
`
	if got, want := FirstError(up), "a-vpn-subnet: creating EC2 Subnet: InvalidSubnet.Conflict: The CIDR '10.0.0.0/24' conflicts with another subnet"; got != want {
		t.Errorf("up:\n got %q\nwant %q", got, want)
	}
	// The stack's error comes first, but only reports a consequence.
	consequence := `Diagnostics:
  pulumi:pulumi:Stack (vpclink-dev):
    error: update failed
    error: an unhandled error occurred: program failed:
    waiting for RPCs: rpc error: code = Unavailable desc = resource monitor shut down while sending resource registration

  aws:ec2:Subnet (a-terminal-subnet):
    error: InvalidSubnet.Conflict: The CIDR '10.0.1.0/25' conflicts with another subnet
    	status code: 400 (vpclink lab)
`
	if got, want := FirstError(consequence), "a-terminal-subnet: InvalidSubnet.Conflict: The CIDR '10.0.1.0/25' conflicts with another subnet"; got != want {
		t.Errorf("stack error before the resource's:\n got %q\nwant %q", got, want)
	}
	stackOnly := "Diagnostics:\n  pulumi:pulumi:Stack (vpclink-dev):\n    error: update failed\n    error: no changes were expected but changes occurred\n"
	if got := FirstError(stackOnly); got != "no changes were expected but changes occurred" {
		t.Errorf("stack error: %q", got)
	}
	if got := FirstError("something\nbroke at the end\n"); got != "broke at the end" {
		t.Errorf("no error line: %q", got)
	}
}

func TestChangedResourcesAndWarnings(t *testing.T) {
	out := `Updating (dev):
    pulumi:pulumi:Stack vpclink-dev running
 ~  aws:ec2/instance:Instance a-vpn updating (0s) [diff: ~ami]
 +- command:remote:Command a-b-a-setup replacing (0s)
    pulumi:pulumi:Stack vpclink-dev running warning: something odd
 warning: another
`
	if got := strings.Join(ChangedResources(out), " "); got != "~a-vpn +-a-b-a-setup" {
		t.Errorf("changed: %q", got)
	}
	if n := CountWarnings(out); n != 2 {
		t.Errorf("%d warnings, want 2", n)
	}
}

func TestParsePing(t *testing.T) {
	var b strings.Builder
	b.WriteString("PING 10.1.1.40 (10.1.1.40) 56(84) bytes of data.\n")
	// Replies to 1-5, none to 6-12 (a 7-probe outage), replies to 13-19,
	// 20 lost, 21 in flight when ping stopped.
	for seq := 1; seq <= 19; seq++ {
		if seq < 6 || seq > 12 {
			b.WriteString("64 bytes from 10.1.1.40: icmp_seq=" + strconv.Itoa(seq) + " ttl=62 time=0.412 ms\n")
		}
	}
	b.WriteString("\n--- 10.1.1.40 ping statistics ---\n21 packets transmitted, 12 received, 42.8571% packet loss, time 4000ms\n")
	s, err := ParsePing(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 20 || s.Received != 12 || s.LongestLoss != 7 {
		t.Errorf("%+v, want 20 sent (the 21st in flight), 12 received, longest loss 7", s)
	}
	if d := s.Downtime(); d != 1400*time.Millisecond {
		t.Errorf("downtime %s, want 1.4s", d)
	}
	if _, err := ParsePing("ping: connect: Network is unreachable\n"); err == nil {
		t.Error("ping without summary parsed")
	}
}

func TestMatrixTable(t *testing.T) {
	rs := []MatrixResult{
		{Step: "tunnelMtu 1400 -> 1300", Updated: 4, Up: 14 * time.Second, Ping: &PingStats{Sent: 70, Received: 64, LongestLoss: 6}, Outcome: Converged},
		{Step: "availabilityZone a: none -> eu-west-1b", Replaced: []string{"a-vpn", "a-vpn-subnet"}, Up: 3 * time.Second, Warnings: 1, Outcome: Failed, Err: "up: a | b", Note: "no pinger: the change replaces a-terminal"},
		{Step: "vpnPrivateIp a: reserved", Outcome: Refused, Err: "config vpclink:sites[0].vpnPrivateIp ..."},
		{Step: "availabilityZone a: eu-west-1b -> eu-west-1c", Outcome: Skipped},
	}
	var b strings.Builder
	MatrixTable(&b, rs)
	want := `| change | replaced | updated | created/deleted | up time | tunnel downtime (lost/sent) | warnings | result |
|---|---|---|---|---|---|---|---|
| tunnelMtu 1400 -> 1300 | 0 | 4 | 0/0 | 14.0 s | 1.2 s (6/70) | 0 | converged |
| availabilityZone a: none -> eu-west-1b | 2: a-vpn, a-vpn-subnet | 0 | 0/0 | 3.0 s | no pinger | 1 | **FAILED**: up: a \| b [2] |
| vpnPrivateIp a: reserved | — | — | — | — | — | — | refused: config vpclink:sites[0].vpnPrivateIp ... |
| availabilityZone a: eu-west-1b -> eu-west-1c | — | — | — | — | — | — | skipped |

[2] availabilityZone a: none -> eu-west-1b: no pinger: the change replaces a-terminal  
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The matrix's data uses the program's real keys and fields, each group
// has distinct step names, and every refusal names a key.
func TestChangesUseTheProgramsKeys(t *testing.T) {
	field := regexp.MustCompile(`^vpclink:(\w+)(\[\d+\])?(\.(\w+)(\[\d+\])?)?$`)
	seen := map[string]bool{}
	for _, c := range Changes {
		if len(c.Steps) == 0 {
			t.Errorf("%s: no steps", c.Name)
		}
		for _, s := range c.Steps {
			if seen[s.Name] {
				t.Errorf("two steps named %q", s.Name)
			}
			seen[s.Name] = true
			if s.Refused != "" && !strings.HasPrefix(s.Refused, "vpclink:") {
				t.Errorf("%s: refusal key %q", s.Name, s.Refused)
			}
			for _, e := range s.Edits {
				m := field.FindStringSubmatch(e.Path)
				if m == nil {
					t.Errorf("%s: path %q", s.Name, e.Path)
					continue
				}
				if !contains(topology.Keys, m[1]) {
					t.Errorf("%s: %s is not a key of the program", s.Name, m[1])
				}
				fields := map[string][]string{"sites": topology.SiteFields, "links": topology.LinkFields}[m[1]]
				if m[4] != "" && !contains(fields, m[4]) {
					t.Errorf("%s: %s is not a field of %s", s.Name, m[4], m[1])
				}
				if e.Remove == (e.Value != "") {
					t.Errorf("%s: %s sets nothing or removes a value", s.Name, e.Path)
				}
			}
		}
	}
	for _, want := range []string{"across architectures", "availabilityZone", "terminalSubnetCidr", "vpnPrivateIp", "terminal b", "tunnelMtu"} {
		if len(SelectChanges(Changes, regexp.MustCompile(regexp.QuoteMeta(want)))) == 0 {
			t.Errorf("no change matches %q", want)
		}
	}
	if n := len(SelectChanges(Changes, regexp.MustCompile(`eu-west-1c -> none`))); n != 1 {
		t.Errorf("a step's name selects %d changes, want its group", n)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
