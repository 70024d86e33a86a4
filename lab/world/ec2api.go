package world

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The EC2 Query API as the lab serves it to instances: POST / with a form
// body (Action=...&Version=...), signed with SigV4 by credentials IMDS
// issued, answered in AWS's XML. Only the actions the HA monitor uses:
// DescribeRouteTables, ReplaceRoute, CreateRoute.

const ec2XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// EC2Handler serves the EC2 API of every region (the region is the one of
// the request's credential scope, which must match the Host name).
func (e *Endpoints) EC2Handler() http.Handler { return http.HandlerFunc(e.serveEC2) }

func writeEC2Error(rw http.ResponseWriter, err *authError) {
	rw.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	rw.WriteHeader(err.Status)
	fmt.Fprintf(rw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>",
		xmlText(err.Code), xmlText(err.Message), requestID())
}

func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func badRequest(code, format string, args ...any) *authError {
	return &authError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromWorld turns a world error (an API error "Code: message\n\t...") into
// the EC2 API's.
func fromWorld(err error) *authError {
	code, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok || strings.ContainsAny(code, " \n") {
		return &authError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "An internal error has occurred"}
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return badRequest(code, "%s", msg)
}

// regionOfHost is the region of an EC2 endpoint's host name ("" when it
// is none).
func regionOfHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	r, ok := strings.CutPrefix(host, "ec2.")
	if !ok {
		return ""
	}
	r, ok = strings.CutSuffix(r, ".amazonaws.com")
	if !ok {
		return ""
	}
	return r
}

func (e *Endpoints) serveEC2(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeEC2Error(rw, badRequest("InvalidRequest", "The request received was invalid"))
		return
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeEC2Error(rw, badRequest("InvalidRequest", "The request received was invalid"))
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeEC2Error(rw, badRequest("InvalidRequest", "The request received was invalid"))
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	sig, aerr := parseSigV4(r)
	if aerr != nil {
		writeEC2Error(rw, aerr)
		return
	}
	cred, ok := e.credential(sig.AccessKey)
	if !ok {
		writeEC2Error(rw, authFailure("AWS was not able to validate the provided access credentials"))
		return
	}
	if aerr := verifySigV4(r, body, sig, cred.Secret, e.now()); aerr != nil {
		writeEC2Error(rw, aerr)
		return
	}
	if sig.Service != "ec2" {
		writeEC2Error(rw, authFailure(fmt.Sprintf("Credential should be scoped to correct service: 'ec2'.")))
		return
	}
	if host := regionOfHost(r.Host); host == "" || host != sig.Region {
		writeEC2Error(rw, authFailure(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sig.Region)))
		return
	}
	if sig.Token == "" || sig.Token != cred.Token {
		writeEC2Error(rw, authFailure("AWS was not able to validate the provided access credentials"))
		return
	}
	if e.now().After(cred.Expires) {
		writeEC2Error(rw, authFailure("AWS was not able to validate the provided access credentials"))
		return
	}
	out, aerr := e.ec2Action(sig.Region, cred, params)
	if e.logf != nil {
		outcome := "ok"
		if aerr != nil {
			outcome = aerr.Code
		}
		e.logf("ec2 %s: %s by %s (%s): %s", sig.Region, params.Get("Action"), cred.Instance, cred.Role, outcome)
	}
	if aerr != nil {
		writeEC2Error(rw, aerr)
		return
	}
	rw.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprint(rw, out)
}

// ec2Action authorises and runs one action.
func (e *Endpoints) ec2Action(region string, cred sessionCred, p url.Values) (string, *authError) {
	action := p.Get("Action")
	if action == "" {
		return "", badRequest("MissingAction", "The request must contain the parameter Action")
	}
	var resource string
	switch action {
	case "DescribeRouteTables":
		// No resource-level permissions: only Resource "*" covers it.
		resource = "*"
	case "ReplaceRoute", "CreateRoute":
		t := p.Get("RouteTableId")
		if t == "" {
			return "", badRequest("MissingParameter", "The request must contain the parameter routeTableId")
		}
		resource = fmt.Sprintf("arn:aws:ec2:%s:%s:route-table/%s", region, awsmodel.Account, t)
	default:
		return "", badRequest("InvalidAction", "The action %s is not valid for this web service.", action)
	}
	m, err := e.w.Load()
	if err != nil {
		return "", fromWorld(err)
	}
	if !allowed(m.policiesOf(cred.Role), "ec2:"+action, resource) {
		return "", &authError{Status: http.StatusForbidden, Code: "UnauthorizedOperation",
			Message: fmt.Sprintf("You are not authorized to perform this operation. User: arn:aws:sts::%s:assumed-role/%s/%s is not authorized to perform: ec2:%s on resource: %s because no identity-based policy allows the ec2:%s action.",
				awsmodel.Account, cred.Role, cred.Instance, action, resource, action)}
	}
	switch action {
	case "DescribeRouteTables":
		return describeRouteTables(m, region, p)
	case "ReplaceRoute":
		return e.changeRoute(region, p, false)
	default:
		return e.changeRoute(region, p, true)
	}
}

// routeTarget is a ReplaceRoute's or CreateRoute's target as the world's
// route inputs.
func routeTarget(m *Model, region string, p url.Values) (resource.PropertyMap, *authError) {
	in := resource.PropertyMap{}
	n := 0
	if v := p.Get("NetworkInterfaceId"); v != "" {
		in["networkInterfaceId"] = resource.NewProperty(v)
		n++
	}
	if v := p.Get("GatewayId"); v != "" {
		in["gatewayId"] = resource.NewProperty(v)
		n++
	}
	if v := p.Get("InstanceId"); v != "" {
		inst := m.Instances[v]
		if inst == nil || inst.Region != region {
			return nil, badRequest("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", v)
		}
		in["networkInterfaceId"] = resource.NewProperty(inst.ENI)
		n++
	}
	if n > 1 {
		return nil, badRequest("InvalidParameterCombination", "More than one target specified")
	}
	if n == 0 {
		return nil, badRequest("InvalidParameterCombination", "No route target specified")
	}
	return in, nil
}

// changeRoute is ReplaceRoute (create false) or CreateRoute, through the
// world's model under its lock, then the machine follows (sys.apply).
func (e *Endpoints) changeRoute(region string, p url.Values, create bool) (string, *authError) {
	tableID, dest := p.Get("RouteTableId"), p.Get("DestinationCidrBlock")
	if dest == "" {
		return "", badRequest("MissingParameter", "The request must contain the parameter destinationCidrBlock")
	}
	var result *authError
	err := e.w.Update(func(m *Model) error {
		t := m.Tables[tableID]
		if t == nil || t.Region != region {
			result = badRequest("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", tableID)
			return nil
		}
		in, aerr := routeTarget(m, region, p)
		if aerr != nil {
			result = aerr
			return nil
		}
		o := &op{w: e.w, m: m, sys: e.w.system()}
		in["routeTableId"] = resource.NewProperty(tableID)
		in["destinationCidrBlock"] = resource.NewProperty(dest)
		if create {
			if err := (routeKind{}).create(o, Regional{ID: NewID("r"), Region: region, Name: "ec2-api"}, in); err != nil {
				result = fromWorld(err)
			}
			return nil
		}
		var rt *Route
		for _, x := range m.Routes {
			if x.Table == tableID && x.Dest == dest {
				rt = x
			}
		}
		if rt == nil {
			result = badRequest("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Use CreateRoute instead.", dest)
			return nil
		}
		// Checked on a copy: a refused call leaves the route as it was.
		next := *rt
		if err := setRoute(m, &next, in); err != nil {
			result = fromWorld(err)
			return nil
		}
		*rt = next
		return o.sys.apply(m)
	})
	if err != nil {
		return "", fromWorld(err)
	}
	if result != nil {
		return "", result
	}
	name := "ReplaceRouteResponse"
	if create {
		name = "CreateRouteResponse"
	}
	return fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"%s\">\n    <requestId>%s</requestId>\n    <return>true</return>\n</%s>", name, ec2XMLNS, requestID(), name), nil
}

// routeState is "active", or "blackhole" when the target is gone or its
// instance is not running.
func routeState(m *Model, rt *Route) string {
	if rt.ENI != "" {
		inst := m.instanceByENI(rt.ENI)
		if inst == nil || inst.State == "stopped" || inst.State == "stopping" {
			return "blackhole"
		}
	}
	if rt.IGW != "" {
		if g := m.IGWs[rt.IGW]; g == nil || g.VPC == "" {
			return "blackhole"
		}
	}
	return "active"
}

func describeRouteTables(m *Model, region string, p url.Values) (string, *authError) {
	var ids []string
	for k, v := range p {
		if strings.HasPrefix(k, "RouteTableId.") {
			ids = append(ids, v...)
		}
		if strings.HasPrefix(k, "Filter.") {
			return "", badRequest("InvalidParameterValue", "The filter '%s' is not emulated by the vpclink lab", k)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		for id, t := range m.Tables {
			if t.Region == region {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRouteTablesResponse xmlns=\"%s\">\n    <requestId>%s</requestId>\n    <routeTableSet>\n", ec2XMLNS, requestID())
	for _, id := range ids {
		t := m.Tables[id]
		if t == nil || t.Region != region {
			return "", badRequest("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
		}
		fmt.Fprintf(&b, "        <item>\n            <routeTableId>%s</routeTableId>\n            <vpcId>%s</vpcId>\n            <ownerId>%s</ownerId>\n            <routeSet>\n", t.ID, t.VPC, awsmodel.Account)
		if v := m.VPCs[t.VPC]; v != nil {
			fmt.Fprintf(&b, "                <item>\n                    <destinationCidrBlock>%s</destinationCidrBlock>\n                    <gatewayId>local</gatewayId>\n                    <state>active</state>\n                    <origin>CreateRouteTable</origin>\n                </item>\n", v.CIDR)
		}
		var routes []*Route
		for _, rt := range m.Routes {
			if rt.Table == id {
				routes = append(routes, rt)
			}
		}
		sort.Slice(routes, func(i, j int) bool { return routes[i].Dest < routes[j].Dest })
		for _, rt := range routes {
			fmt.Fprintf(&b, "                <item>\n                    <destinationCidrBlock>%s</destinationCidrBlock>\n", xmlText(rt.Dest))
			if rt.IGW != "" {
				fmt.Fprintf(&b, "                    <gatewayId>%s</gatewayId>\n", rt.IGW)
			}
			if rt.ENI != "" {
				if inst := m.instanceByENI(rt.ENI); inst != nil {
					fmt.Fprintf(&b, "                    <instanceId>%s</instanceId>\n                    <instanceOwnerId>%s</instanceOwnerId>\n", inst.ID, awsmodel.Account)
				}
				fmt.Fprintf(&b, "                    <networkInterfaceId>%s</networkInterfaceId>\n", rt.ENI)
			}
			fmt.Fprintf(&b, "                    <state>%s</state>\n                    <origin>CreateRoute</origin>\n                </item>\n", routeState(m, rt))
		}
		b.WriteString("            </routeSet>\n            <associationSet>\n")
		var assocs []*Assoc
		for _, a := range m.Assocs {
			if a.Table == id {
				assocs = append(assocs, a)
			}
		}
		sort.Slice(assocs, func(i, j int) bool { return assocs[i].ID < assocs[j].ID })
		for _, a := range assocs {
			fmt.Fprintf(&b, "                <item>\n                    <routeTableAssociationId>%s</routeTableAssociationId>\n                    <routeTableId>%s</routeTableId>\n                    <subnetId>%s</subnetId>\n                    <main>false</main>\n                    <associationState>\n                        <state>associated</state>\n                    </associationState>\n                </item>\n", a.ID, a.Table, a.Subnet)
		}
		b.WriteString("            </associationSet>\n            <propagatingVgwSet/>\n            <tagSet/>\n        </item>\n")
	}
	b.WriteString("    </routeTableSet>\n</DescribeRouteTablesResponse>")
	return b.String(), nil
}
