package world

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// haSite is a site as the HA program builds it: a VPC with two VPN
// instances, a route to the peer at the first, a monitor role allowed to
// move the site's routes, its profile on both instances.
type haSite struct {
	site
	primary, secondary *Instance
	route, role        string
}

func monitorPolicy(region, table string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ec2:ReplaceRoute","ec2:CreateRoute"],"Resource":"arn:aws:ec2:%s:*:route-table/%s"},
 {"Effect":"Allow","Action":"ec2:DescribeRouteTables","Resource":"*"}]}`, region, table)
}

const assumeEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func newHASite(t *testing.T, w *World, name, region, cidr, subnet, ip1, ip2, peer string) haSite {
	t.Helper()
	s := haSite{site: newSite(t, w, region, cidr, subnet)}
	w.mustCreate(t, region, awsmodel.RouteTableAssociation, name+"-assoc", in("subnetId", s.subnet, "routeTableId", s.table))
	s.role, _ = w.mustCreate(t, region, awsmodel.Role, name+"-monitor-role", in("name", name+"-monitor-role", "assumeRolePolicy", assumeEC2))
	w.mustCreate(t, region, awsmodel.RolePolicy, name+"-monitor-policy", in("role", s.role, "name", name+"-monitor-policy", "policy", monitorPolicy(region, s.table)))
	profile, _ := w.mustCreate(t, region, awsmodel.InstanceProfile, name+"-monitor-profile", in("role", s.role))
	md := map[string]any{"httpTokens": "required", "httpEndpoint": "enabled", "httpPutResponseHopLimit": 1}
	p1, _ := w.mustCreate(t, region, awsmodel.Instance, name+"-vpn", s.instanceInputs(ip1, "iamInstanceProfile", profile, "metadataOptions", md))
	p2, _ := w.mustCreate(t, region, awsmodel.Instance, name+"-vpn2", s.instanceInputs(ip2, "iamInstanceProfile", profile, "metadataOptions", md))
	m := load(t, w)
	s.primary, s.secondary = m.Instances[p1], m.Instances[p2]
	s.route, _ = w.mustCreate(t, region, awsmodel.Route, name+"-route", in("routeTableId", s.table, "destinationCidrBlock", peer, "networkInterfaceId", s.primary.ENI))
	return s
}

// imds calls the IMDS handler of a VPC as the instance with address src.
func imds(t *testing.T, e *Endpoints, vpc, src, method, path string, headers ...string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, "http://169.254.169.254"+path, nil)
	r.RemoteAddr = src + ":40000"
	for i := 0; i < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	rw := httptest.NewRecorder()
	e.IMDSHandler(vpc).ServeHTTP(rw, r)
	return rw.Code, rw.Body.String()
}

// credsOf fetches an instance's role credentials the way the monitor does.
func credsOf(t *testing.T, e *Endpoints, s haSite, inst *Instance) map[string]string {
	t.Helper()
	code, token := imds(t, e, s.vpc, inst.IP, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "21600")
	if code != 200 {
		t.Fatalf("token: %d %s", code, token)
	}
	code, role := imds(t, e, s.vpc, inst.IP, "GET", "/latest/meta-data/iam/security-credentials/", "X-aws-ec2-metadata-token", token)
	if code != 200 || role != s.role {
		t.Fatalf("role: %d %q", code, role)
	}
	code, body := imds(t, e, s.vpc, inst.IP, "GET", "/latest/meta-data/iam/security-credentials/"+role, "X-aws-ec2-metadata-token", token)
	if code != 200 {
		t.Fatalf("credentials: %d %s", code, body)
	}
	var c map[string]string
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatalf("credentials: %v\n%s", err, body)
	}
	return c
}

func TestIMDSTokensAndCredentials(t *testing.T) {
	w, _ := testWorld(t)
	s := newHASite(t, w, "a", "eu-west-1", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.10", "10.0.0.11", "10.1.0.0/16")
	e := NewEndpoints(w)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	ip := s.primary.IP

	for _, ttl := range []string{"", "0", "21601", "x"} {
		if code, _ := imds(t, e, s.vpc, ip, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", ttl); code != 400 {
			t.Errorf("PUT token with TTL %q: %d, want 400", ttl, code)
		}
	}
	if code, _ := imds(t, e, s.vpc, ip, "GET", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "60"); code != 405 {
		t.Errorf("GET of the token path: %d, want 405", code)
	}
	_, token := imds(t, e, s.vpc, ip, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "60")
	if code, _ := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/instance-id"); code != 401 {
		t.Errorf("httpTokens required, GET without a token: %d, want 401", code)
	}
	if code, body := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", token); code != 200 || body != s.primary.ID {
		t.Errorf("instance-id: %d %q, want %s", code, body, s.primary.ID)
	}
	if code, body := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/placement/region", "X-aws-ec2-metadata-token", token); code != 200 || body != "eu-west-1" {
		t.Errorf("placement/region: %d %q", code, body)
	}
	// A token is the instance's own.
	if code, _ := imds(t, e, s.vpc, s.secondary.IP, "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", token); code != 401 {
		t.Errorf("another instance's token: %d, want 401", code)
	}
	if code, _ := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", "AQAEAforged"); code != 401 {
		t.Errorf("a forged token: %d, want 401", code)
	}
	now = now.Add(61 * time.Second)
	if code, _ := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", token); code != 401 {
		t.Errorf("an expired token: %d, want 401", code)
	}

	_, token = imds(t, e, s.vpc, ip, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "21600")
	if code, body := imds(t, e, s.vpc, ip, "GET", "/latest/meta-data/iam/security-credentials", "X-aws-ec2-metadata-token", token); code != 200 || body != s.role {
		t.Errorf("security-credentials without the slash: %d %q", code, body)
	}
	c := credsOf(t, e, s, s.primary)
	for _, k := range []string{"Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"} {
		if c[k] == "" {
			t.Errorf("credentials lack %s", k)
		}
	}
	if c["Code"] != "Success" || c["Type"] != "AWS-HMAC" || !strings.HasPrefix(c["AccessKeyId"], "ASIA") {
		t.Errorf("credentials: Code %q Type %q AccessKeyId prefix %.4s", c["Code"], c["Type"], c["AccessKeyId"])
	}
	exp, err := time.Parse(time.RFC3339, c["Expiration"])
	if err != nil || exp.Sub(now) < time.Hour {
		t.Errorf("Expiration %q: less than an hour ahead of %s", c["Expiration"], now)
	}
	// The same credentials until they near their end, then new ones that
	// again last over an hour.
	if again := credsOf(t, e, s, s.primary); again["AccessKeyId"] != c["AccessKeyId"] {
		t.Errorf("new credentials at once")
	}
	now = exp.Add(-80 * time.Minute)
	later := credsOf(t, e, s, s.primary)
	if later["AccessKeyId"] == c["AccessKeyId"] {
		t.Errorf("the same credentials 80 minutes before they expire")
	}
	if exp2, _ := time.Parse(time.RFC3339, later["Expiration"]); exp2.Sub(now) < time.Hour {
		t.Errorf("renewed credentials expire %s", later["Expiration"])
	}

	// An instance without a profile, tokens optional: IMDSv1 works, no
	// credentials.
	plain, _ := w.mustCreate(t, "eu-west-1", awsmodel.Instance, "terminal", s.instanceInputs("10.0.0.40"))
	if code, body := imds(t, e, s.vpc, "10.0.0.40", "GET", "/latest/meta-data/instance-id"); code != 200 || body != plain {
		t.Errorf("IMDSv1 with tokens optional: %d %q", code, body)
	}
	if code, _ := imds(t, e, s.vpc, "10.0.0.40", "GET", "/latest/meta-data/iam/security-credentials/"); code != 404 {
		t.Errorf("no profile: security-credentials/ answers %d, want 404", code)
	}
	// An address of no instance of this VPC gets nothing.
	if code, _ := imds(t, e, s.vpc, "10.0.0.99", "GET", "/latest/meta-data/instance-id"); code == 200 {
		t.Errorf("a stranger's address got an answer")
	}
}

// ec2Server serves the EC2 handler over TLS with a lab CA, as the daemon.
func ec2Server(t *testing.T, e *Endpoints) (addr, caFile string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "endpoints")
	if err := makeCA(dir); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.EC2Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), filepath.Join(dir, "ca.crt")
}

// call runs the real curl --aws-sigv4 as the monitor does (secrets in a
// config on stdin) and returns the HTTP status and the body.
func call(t *testing.T, addr, caFile, region string, c map[string]string, body string) (int, string) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	_, port, _ := net.SplitHostPort(addr)
	host := awsmodel.EC2Host(region)
	cfg := fmt.Sprintf("user = \"%s:%s\"\nheader = \"x-amz-security-token: %s\"\n", c["AccessKeyId"], c["SecretAccessKey"], c["Token"])
	cmd := exec.Command(curl, "-sS", "-K", "-", "--cacert", caFile, "--resolve", host+":"+port+":127.0.0.1",
		"--aws-sigv4", "aws:amz:"+region+":ec2",
		"-H", "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
		"--data", body, "-w", "\n%{http_code}", "https://"+host+":"+port+"/")
	cmd.Stdin = strings.NewReader(cfg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	text := strings.TrimSpace(string(out))
	i := strings.LastIndex(text, "\n")
	var code int
	fmt.Sscan(text[i+1:], &code)
	return code, text[:i]
}

func wantEC2Error(t *testing.T, what string, code int, body string, status int, errCode string) {
	t.Helper()
	if code != status || !strings.Contains(body, "<Code>"+errCode+"</Code>") || !strings.Contains(body, "<Response><Errors><Error>") {
		t.Errorf("%s: %d %s, want %d %s", what, code, body, status, errCode)
	}
}

func TestEC2APIWithCurlSigV4(t *testing.T) {
	w, _ := testWorld(t)
	a := newHASite(t, w, "a", "eu-west-1", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.10", "10.0.0.11", "10.1.0.0/16")
	b := newHASite(t, w, "b", "eu-west-1", "10.1.0.0/16", "10.1.0.0/24", "10.1.0.10", "10.1.0.11", "10.0.0.0/16")
	e := NewEndpoints(w)
	addr, ca := ec2Server(t, e)
	ca2 := credsOf(t, e, a, a.secondary)
	cb := credsOf(t, e, b, b.primary)
	const v = "&Version=2016-11-15"

	code, body := call(t, addr, ca, "eu-west-1", ca2, "Action=DescribeRouteTables&RouteTableId.1="+a.table+v)
	if code != 200 || !strings.Contains(body, "<routeTableId>"+a.table+"</routeTableId>") ||
		!strings.Contains(body, "<networkInterfaceId>"+a.primary.ENI+"</networkInterfaceId>") ||
		!strings.Contains(body, `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`) {
		t.Fatalf("DescribeRouteTables: %d\n%s", code, body)
	}

	// The secondary takes the route over: the same route object, in place.
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=ReplaceRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.1.0.0/16&NetworkInterfaceId="+a.secondary.ENI+v)
	if code != 200 || !strings.Contains(body, "<return>true</return>") || !strings.Contains(body, "<ReplaceRouteResponse") {
		t.Fatalf("ReplaceRoute: %d\n%s", code, body)
	}
	if rt := load(t, w).Routes[a.route]; rt == nil || rt.ENI != a.secondary.ENI {
		t.Fatalf("after ReplaceRoute the model's route is %+v, want ENI %s", rt, a.secondary.ENI)
	}

	// Another site's credentials, or another site's table: denied.
	code, body = call(t, addr, ca, "eu-west-1", cb, "Action=ReplaceRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.1.0.0/16&NetworkInterfaceId="+a.primary.ENI+v)
	wantEC2Error(t, "site b's credentials on a's table", code, body, 403, "UnauthorizedOperation")
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=ReplaceRoute&RouteTableId="+b.table+"&DestinationCidrBlock=10.0.0.0/16&NetworkInterfaceId="+b.secondary.ENI+v)
	wantEC2Error(t, "site a's credentials on b's table", code, body, 403, "UnauthorizedOperation")
	if rt := load(t, w).Routes[b.route]; rt.ENI != b.primary.ENI {
		t.Fatalf("a denied ReplaceRoute moved the route")
	}

	// Signature, key and token checks.
	bad := map[string]string{"AccessKeyId": ca2["AccessKeyId"], "SecretAccessKey": "wrong" + ca2["SecretAccessKey"][5:], "Token": ca2["Token"]}
	code, body = call(t, addr, ca, "eu-west-1", bad, "Action=DescribeRouteTables"+v)
	wantEC2Error(t, "a wrong secret", code, body, 401, "AuthFailure")
	unknown := map[string]string{"AccessKeyId": "ASIAUNKNOWNUNKNOWN00", "SecretAccessKey": ca2["SecretAccessKey"], "Token": ca2["Token"]}
	code, body = call(t, addr, ca, "eu-west-1", unknown, "Action=DescribeRouteTables"+v)
	wantEC2Error(t, "an unknown key", code, body, 401, "AuthFailure")
	otherToken := map[string]string{"AccessKeyId": ca2["AccessKeyId"], "SecretAccessKey": ca2["SecretAccessKey"], "Token": cb["Token"]}
	code, body = call(t, addr, ca, "eu-west-1", otherToken, "Action=DescribeRouteTables"+v)
	wantEC2Error(t, "another session's token", code, body, 401, "AuthFailure")
	code, body = call(t, addr, ca, "eu-west-2", ca2, "Action=DescribeRouteTables"+v)
	if code != 200 || strings.Contains(body, a.table) {
		t.Errorf("eu-west-2 sees no table of eu-west-1: %d %s", code, body)
	}

	// Errors of the actions, as AWS names them.
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=ReplaceRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.9.0.0/16&NetworkInterfaceId="+a.secondary.ENI+v)
	wantEC2Error(t, "ReplaceRoute of a missing route", code, body, 400, "InvalidRoute.NotFound")
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=CreateRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.9.0.0/16&NetworkInterfaceId="+a.secondary.ENI+v)
	if code != 200 || !strings.Contains(body, "<CreateRouteResponse") {
		t.Errorf("CreateRoute: %d %s", code, body)
	}
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=CreateRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.9.0.0/16&NetworkInterfaceId="+a.secondary.ENI+v)
	wantEC2Error(t, "CreateRoute twice", code, body, 400, "RouteAlreadyExists")
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=ReplaceRoute&RouteTableId="+a.table+"&DestinationCidrBlock=10.1.0.0/16&NetworkInterfaceId=eni-0123456789abcdef0"+v)
	wantEC2Error(t, "an unknown interface", code, body, 400, "InvalidNetworkInterfaceID.NotFound")
	if rt := load(t, w).Routes[a.route]; rt.ENI != a.secondary.ENI {
		t.Errorf("a refused ReplaceRoute changed the route to %s", rt.ENI)
	}
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=DescribeRouteTables&RouteTableId.1=rtb-0000000000000000a"+v)
	wantEC2Error(t, "an unknown table", code, body, 400, "InvalidRouteTableID.NotFound")
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=TerminateInstances&InstanceId.1="+a.primary.ID+v)
	wantEC2Error(t, "an action not served", code, body, 400, "InvalidAction")
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=ReplaceRoute&DestinationCidrBlock=10.1.0.0/16"+v)
	wantEC2Error(t, "no RouteTableId", code, body, 400, "MissingParameter")

	// Unsigned, and signed with a clock 20 minutes off.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post("https://"+addr+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeRouteTables"+v))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unsigned: %d, want 401", resp.StatusCode)
	}
	e.now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	code, body = call(t, addr, ca, "eu-west-1", ca2, "Action=DescribeRouteTables"+v)
	wantEC2Error(t, "a request 20 minutes old", code, body, 400, "RequestExpired")
}

func TestPolicyEvaluation(t *testing.T) {
	doc := monitorPolicy("eu-west-1", "rtb-0a")
	arn := func(region, table string) string {
		return "arn:aws:ec2:" + region + ":" + awsmodel.Account + ":route-table/" + table
	}
	for _, c := range []struct {
		action, resource string
		want             bool
	}{
		{"ec2:ReplaceRoute", arn("eu-west-1", "rtb-0a"), true},
		{"EC2:replaceroute", arn("eu-west-1", "rtb-0a"), true},
		{"ec2:CreateRoute", arn("eu-west-1", "rtb-0a"), true},
		{"ec2:ReplaceRoute", arn("eu-west-1", "rtb-0b"), false},
		{"ec2:ReplaceRoute", arn("eu-west-2", "rtb-0a"), false},
		{"ec2:DeleteRoute", arn("eu-west-1", "rtb-0a"), false},
		{"ec2:DescribeRouteTables", "*", true},
		{"ec2:DescribeInstances", "*", false},
	} {
		if got := allowed([]string{doc}, c.action, c.resource); got != c.want {
			t.Errorf("%s on %s: allowed %v, want %v", c.action, c.resource, got, c.want)
		}
	}
	deny := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:*Route","Resource":"*"}}`
	if allowed([]string{doc, deny}, "ec2:ReplaceRoute", arn("eu-west-1", "rtb-0a")) {
		t.Errorf("an explicit Deny did not win")
	}
	if allowed(nil, "ec2:DescribeRouteTables", "*") {
		t.Errorf("no policy allowed something")
	}
	if allowed([]string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:ReplaceRoute","Resource":"arn:aws:ec2:eu-west-1:*:route-table/*"}]}`}, "ec2:DescribeRouteTables", "*") {
		t.Errorf("a resource-scoped statement covered an action without resource-level permissions")
	}
}

func TestIAMObjects(t *testing.T) {
	w, _ := testWorld(t)
	role, out := w.mustCreate(t, "eu-west-1", awsmodel.Role, "r", in("name", "site-monitor-role", "assumeRolePolicy", assumeEC2))
	if role != "site-monitor-role" || awsmodel.Text(out["arn"]) != "arn:aws:iam::"+awsmodel.Account+":role/site-monitor-role" {
		t.Errorf("role id %q arn %q", role, awsmodel.Text(out["arn"]))
	}
	// IAM is global: the same name through another region's provider.
	_, _, err := w.Create("us-east-1", awsmodel.Role, "r2", in("name", "site-monitor-role", "assumeRolePolicy", assumeEC2))
	wantAPIError(t, err, "EntityAlreadyExists", "Role with name site-monitor-role already exists.")
	prefixed, out := w.mustCreate(t, "eu-west-1", awsmodel.Role, "p", in("namePrefix", "mon-", "assumeRolePolicy", assumeEC2))
	if !strings.HasPrefix(prefixed, "mon-") || len(prefixed) != 4+26 || awsmodel.Text(out["name"]) != prefixed {
		t.Errorf("namePrefix: id %q name %q", prefixed, awsmodel.Text(out["name"]))
	}
	_, _, err = w.Create("eu-west-1", awsmodel.Role, "bad", in("name", "x", "assumeRolePolicy", "{not json"))
	wantAPIError(t, err, "MalformedPolicyDocument", "invalid Json")

	pol, out := w.mustCreate(t, "eu-west-1", awsmodel.RolePolicy, "p", in("role", role, "name", "mon", "policy", monitorPolicy("eu-west-1", "rtb-0a")))
	if pol != role+":mon" || awsmodel.Text(out["name"]) != "mon" {
		t.Errorf("role policy id %q name %q", pol, awsmodel.Text(out["name"]))
	}
	profile, out := w.mustCreate(t, "eu-west-1", awsmodel.InstanceProfile, "site-monitor-profile", in("name", "site-monitor-profile-1a2b3c4", "role", role))
	if awsmodel.Text(out["arn"]) != "arn:aws:iam::"+awsmodel.Account+":instance-profile/"+profile {
		t.Errorf("profile arn %q", awsmodel.Text(out["arn"]))
	}
	wantAPIError(t, w.Delete("eu-west-1", awsmodel.Role, role), "DeleteConflict", "must delete policies first")
	if err := w.Delete("eu-west-1", awsmodel.RolePolicy, pol); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, w.Delete("eu-west-1", awsmodel.Role, role), "DeleteConflict", "must remove roles from instance profile first")

	s := newSite(t, w, "eu-west-1", "10.0.0.0/16", "10.0.0.0/24")
	_, _, err = w.Create("eu-west-1", awsmodel.Instance, "i", s.instanceInputs("10.0.0.10", "iamInstanceProfile", "nope"))
	wantAPIError(t, err, "InvalidParameterValue", "Value (nope) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
	_, _, err = w.Create("eu-west-1", awsmodel.Instance, "i", s.instanceInputs("10.0.0.10", "metadataOptions", map[string]any{"httpTokens": "always"}))
	wantAPIError(t, err, "InvalidParameterValue", "httpTokens")
	id, _ := w.mustCreate(t, "eu-west-1", awsmodel.Instance, "i", s.instanceInputs("10.0.0.10"))
	olds := s.instanceInputs("10.0.0.10")
	news := s.instanceInputs("10.0.0.10", "iamInstanceProfile", profile, "metadataOptions", map[string]any{"httpTokens": "required"})
	if _, err := w.UpdateObject("eu-west-1", awsmodel.Instance, id, "i", olds, news); err != nil {
		t.Fatalf("profile and metadata options in place: %v", err)
	}
	if i := load(t, w).Instances[id]; i.Profile != profile || i.Metadata.HTTPTokens != "required" {
		t.Errorf("after the update: profile %q tokens %q", i.Profile, i.Metadata.HTTPTokens)
	}
	if err := w.Delete("eu-west-1", awsmodel.InstanceProfile, profile); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete("eu-west-1", awsmodel.Role, role); err != nil {
		t.Fatalf("a role without policies or profiles: %v", err)
	}
}

func TestStopStartInstanceBlackholesRoutes(t *testing.T) {
	w, rec := testWorld(t)
	a := newHASite(t, w, "a", "eu-west-1", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.10", "10.0.0.11", "10.1.0.0/16")
	w.Update(func(m *Model) error {
		for _, i := range m.Instances {
			i.State = "running"
		}
		return nil
	})
	state := func() string {
		body, aerr := describeRouteTables(load(t, w), "eu-west-1", map[string][]string{"RouteTableId.1": {a.table}})
		if aerr != nil {
			t.Fatal(aerr)
		}
		i := strings.Index(body, a.primary.ENI)
		j := strings.Index(body[i:], "<state>")
		return body[i+j+7 : i+j+7+strings.Index(body[i+j+7:], "<")]
	}
	if s := state(); s != "active" {
		t.Fatalf("route state %q before the stop", s)
	}
	if err := w.StopInstance("a-vpn"); err != nil {
		t.Fatal(err)
	}
	m := load(t, w)
	if i := m.Instances[a.primary.ID]; i.State != "stopped" || i.ENI != a.primary.ENI || i.MAC != a.primary.MAC {
		t.Errorf("stopped instance: %+v", i)
	}
	if !rec.saw("stop a-vpn") || !rec.saw("link a-vpn false") {
		t.Errorf("the host was not powered off and unplugged: %v", rec.calls)
	}
	if s := state(); s != "blackhole" {
		t.Errorf("route to a stopped instance: %q, want blackhole", s)
	}
	if err := w.StartInstance(a.primary.ID); err != nil {
		t.Fatal(err)
	}
	if i := load(t, w).Instances[a.primary.ID]; i.State != "running" {
		t.Errorf("started instance state %q", i.State)
	}
	if !rec.saw("link a-vpn true") || !rec.saw("boot a-vpn") {
		t.Errorf("the host was not started: %v", rec.calls)
	}
	if s := state(); s != "active" {
		t.Errorf("route after the start: %q", s)
	}
}
