package command

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

// RemoteCommand is the only resource type the stand-in implements.
const RemoteCommand = "command:remote:Command"

// inputKeys are the inputs of command:remote:Command the stand-in
// implements. The schema has no others; all of them are implemented.
var inputKeys = map[string]bool{
	"connection": true, "create": true, "update": true, "delete": true,
	"stdin": true, "environment": true, "addPreviousOutputInEnv": true,
	"logging": true, "triggers": true,
}

// connectionKeys are the fields of connection the stand-in implements. The
// schema's others (password, privateKeyPassword, agentSocketPath, proxy)
// are refused by name: the program logs in with a key only.
var connectionKeys = map[string]bool{
	"host": true, "port": true, "user": true, "privateKey": true,
	"hostKey": true, "dialErrorLimit": true, "perDialTimeout": true,
}

// connectionDefaults are what the real provider's Check fills in (the
// schema's defaults: pulumi-go-provider's infer applies them).
// addPreviousOutputInEnv and logging have no default in the schema and the
// real Check adds none: absent, they mean true and "log both".
var connectionDefaults = resource.PropertyMap{
	"user":           resource.NewProperty("root"),
	"port":           resource.NewProperty(22.0),
	"dialErrorLimit": resource.NewProperty(10.0),
	"perDialTimeout": resource.NewProperty(15.0),
}

// connectionSecrets are the fields of connection the real provider marks
// secret on their own, inside the connection (itself secret).
var connectionSecrets = map[string]bool{"privateKey": true, "password": true, "privateKeyPassword": true}

// loggingValues is the schema's enum command:remote:Logging.
var loggingValues = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

// reveal strips every secret mark, deeply.
func reveal(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return reveal(v.SecretValue().Element)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = reveal(e)
		}
		return resource.NewProperty(out)
	case v.IsArray():
		var out []resource.PropertyValue
		for _, e := range v.ArrayValue() {
			out = append(out, reveal(e))
		}
		return resource.NewProperty(out)
	}
	return v
}

// makeSecret marks v secret unless it already is (or is unknown: the
// engine keeps unknowns plain).
func makeSecret(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() || v.IsComputed() || v.IsOutput() {
		return v
	}
	return resource.MakeSecret(v)
}

func failure(path, format string, a ...any) *pulumirpc.CheckFailure {
	return &pulumirpc.CheckFailure{Property: path, Reason: "vpclink lab: " + fmt.Sprintf(format, a...)}
}

// checkType reports a failure when a known v is not of the schema's type.
func checkType(path string, v resource.PropertyValue, want string) *pulumirpc.CheckFailure {
	v = reveal(v)
	if v.ContainsUnknowns() || v.IsNull() {
		return nil
	}
	ok := false
	switch want {
	case "string":
		ok = v.IsString()
	case "boolean":
		ok = v.IsBool()
	case "number":
		ok = v.IsNumber()
	case "integer":
		ok = v.IsNumber() && v.NumberValue() == math.Trunc(v.NumberValue())
	case "array":
		ok = v.IsArray()
	case "string map":
		ok = v.IsObject()
		if ok {
			for k, e := range v.ObjectValue() {
				if !e.IsString() && !e.ContainsUnknowns() {
					return failure(path+"."+string(k), "property %q of %s must be a string", path+"."+string(k), RemoteCommand)
				}
			}
		}
	case "object":
		ok = v.IsObject()
	}
	if !ok {
		return failure(path, "property %q of %s must be %s", path, RemoteCommand, article(want))
	}
	return nil
}

func article(t string) string {
	if strings.IndexAny(t[:1], "aeiou") == 0 {
		return "an " + t
	}
	return "a " + t
}

var inputTypes = map[string]string{
	"create": "string", "update": "string", "delete": "string", "stdin": "string",
	"environment": "string map", "addPreviousOutputInEnv": "boolean", "logging": "string",
	"triggers": "array", "connection": "object",
}

var connectionTypes = map[string]string{
	"host": "string", "port": "number", "user": "string", "privateKey": "string",
	"hostKey": "string", "dialErrorLimit": "integer", "perDialTimeout": "integer",
}

// check validates news as the real provider's Check would, refusing what
// the stand-in does not emulate, and returns the checked inputs: schema
// defaults applied to connection, connection (and its privateKey) secret.
func check(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	failures := skeleton.Unknown(RemoteCommand, news, inputKeys)
	keys := news.StableKeys()
	for _, k := range keys {
		if t, ok := inputTypes[string(k)]; ok {
			if f := checkType(string(k), news[k], t); f != nil {
				failures = append(failures, f)
			}
		}
	}
	if l := reveal(news["logging"]); l.IsString() && !loggingValues[l.StringValue()] {
		failures = append(failures, failure("logging", "logging %q is not one of stdout, stderr, stdoutAndStderr, none", l.StringValue()))
	}
	conn, ok := news["connection"]
	if !ok || conn.IsNull() {
		failures = append(failures, failure("connection", "missing required property \"connection\" of %s", RemoteCommand))
		return news, failures
	}
	inner := conn
	if inner.IsSecret() {
		inner = inner.SecretValue().Element
	}
	if !inner.IsObject() {
		// Unknown during a preview (the host is an address still to be
		// made): nothing to check or default yet.
		news["connection"] = makeSecret(conn)
		return news, failures
	}
	obj := inner.ObjectValue().Copy()
	for _, f := range skeleton.Unknown(RemoteCommand, obj, connectionKeys) {
		f.Property = "connection." + f.Property
		f.Reason = fmt.Sprintf("vpclink lab: property %q of %s is not emulated", f.Property, RemoteCommand)
		failures = append(failures, f)
	}
	for _, k := range obj.StableKeys() {
		if t, ok := connectionTypes[string(k)]; ok {
			if f := checkType("connection."+string(k), obj[k], t); f != nil {
				failures = append(failures, f)
			}
		}
	}
	if h, ok := obj["host"]; !ok || h.IsNull() {
		failures = append(failures, failure("connection.host", "missing required property \"connection.host\" of %s", RemoteCommand))
	}
	for k, v := range connectionDefaults {
		if cur, ok := obj[k]; !ok || cur.IsNull() {
			obj[k] = v
		}
	}
	for k := range connectionSecrets {
		if v, ok := obj[resource.PropertyKey(k)]; ok && !v.IsNull() {
			obj[resource.PropertyKey(k)] = makeSecret(v)
		}
	}
	news["connection"] = resource.MakeSecret(resource.NewProperty(obj))
	return news, failures
}

// conn is a decoded connection.
type conn struct {
	host, user                     string
	port                           float64
	privateKey, hostKey            *string
	dialErrorLimit, perDialTimeout int
}

// spec is what a run needs: the decoded inputs (or state) of a command.
type spec struct {
	conn                   conn
	create, update, delete *string
	stdin                  string
	environment            map[string]string
	addPreviousOutputInEnv *bool
	logging                string
	// stdout and stderr are the previous run's outputs.
	stdout, stderr string
}

func optString(m resource.PropertyMap, k resource.PropertyKey) (*string, error) {
	v, ok := m[k]
	if !ok || v.IsNull() {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("vpclink lab: %s is not a string", k)
	}
	s := v.StringValue()
	return &s, nil
}

// decode reads what a run needs from inputs or state; everything must be
// known by then.
func decode(m resource.PropertyMap) (spec, error) {
	var s spec
	for k, v := range m {
		if v.ContainsUnknowns() && inputKeys[string(k)] {
			return s, fmt.Errorf("vpclink lab: %s of %s is unknown outside a preview", k, RemoteCommand)
		}
	}
	plain := reveal(resource.NewProperty(m)).ObjectValue()
	var err error
	str := func(k resource.PropertyKey) *string {
		var p *string
		if err == nil {
			p, err = optString(plain, k)
		}
		return p
	}
	s.create, s.update, s.delete = str("create"), str("update"), str("delete")
	if p := str("stdin"); p != nil {
		s.stdin = *p
	}
	if p := str("logging"); p != nil {
		s.logging = *p
	}
	if p := str("stdout"); p != nil {
		s.stdout = *p
	}
	if p := str("stderr"); p != nil {
		s.stderr = *p
	}
	if err != nil {
		return s, err
	}
	if v := plain["addPreviousOutputInEnv"]; v.IsBool() {
		b := v.BoolValue()
		s.addPreviousOutputInEnv = &b
	}
	if v := plain["environment"]; v.IsObject() {
		s.environment = map[string]string{}
		for k, e := range v.ObjectValue() {
			if !e.IsString() {
				return s, fmt.Errorf("vpclink lab: environment %s is not a string", k)
			}
			s.environment[string(k)] = e.StringValue()
		}
	}
	c := plain["connection"]
	if !c.IsObject() {
		return s, fmt.Errorf("vpclink lab: %s has no connection", RemoteCommand)
	}
	obj := c.ObjectValue()
	host, err := optString(obj, "host")
	if err != nil || host == nil {
		return s, fmt.Errorf("vpclink lab: connection has no host")
	}
	s.conn.host = *host
	s.conn.user = "root"
	if u, err := optString(obj, "user"); err != nil {
		return s, err
	} else if u != nil {
		s.conn.user = *u
	}
	if s.conn.privateKey, err = optString(obj, "privateKey"); err != nil {
		return s, err
	}
	if s.conn.hostKey, err = optString(obj, "hostKey"); err != nil {
		return s, err
	}
	num := func(k resource.PropertyKey, def float64) float64 {
		if v := obj[k]; v.IsNumber() {
			return v.NumberValue()
		}
		return def
	}
	s.conn.port = num("port", 22)
	s.conn.dialErrorLimit = int(num("dialErrorLimit", 10))
	s.conn.perDialTimeout = int(num("perDialTimeout", 15))
	return s, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
