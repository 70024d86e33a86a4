package world

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The lab's AWS endpoints (issue 16): the instance metadata service (IMDSv2)
// at 169.254.169.254 in every VPC, which hands an instance the temporary
// credentials of its instance profile's role, and the EC2 Query API at
// https://ec2.<region>.amazonaws.com on the emulated internet (APIIP),
// which checks SigV4 signatures with those credentials, authorises with the
// role's inline policies and changes the world model as the aws stand-in
// does, so that a ReplaceRoute really moves the traffic. One daemon per lab
// serves both (cmd vpclab-endpoints, started by StartEndpoints); its
// sessions live in its memory only.

// Addresses of the endpoints.
const (
	// APIIP is the EC2 endpoint's address on the emulated internet; every
	// lab host resolves ec2.<region>.amazonaws.com to it.
	APIIP = "198.51.100.253"
	// IMDSIP is the instance metadata service's link-local address, held
	// by every VPC router.
	IMDSIP = "169.254.169.254"
)

// Session lifetimes.
const (
	// CredentialLifetime is how long issued credentials stay valid.
	CredentialLifetime = 6 * time.Hour
	// credentialRefresh: IMDS hands out new credentials once the current
	// ones have less than this left, so those it answers with always have
	// at least an hour.
	credentialRefresh = 90 * time.Minute
	maxTokenTTL       = 21600
)

// Endpoints holds the sessions of one lab's endpoints: IMDS tokens and
// issued role credentials. Its handlers read and change the world w.
type Endpoints struct {
	w   *World
	now func() time.Time
	// logf, when set, records each EC2 call: caller, action, outcome
	// (never a key, token or signature).
	logf func(format string, args ...any)

	mu sync.Mutex
	// tokens are IMDSv2 session tokens.
	tokens map[string]imdsToken
	// creds are issued credentials by access key id; current the newest
	// per instance and role.
	creds   map[string]*sessionCred
	current map[string]*sessionCred
}

type imdsToken struct {
	instance string
	expires  time.Time
}

// sessionCred is one set of temporary credentials of a role, issued to one
// instance.
type sessionCred struct {
	AccessKeyID, Secret, Token string
	Instance, Role             string
	Issued, Expires            time.Time
}

// NewEndpoints returns the endpoints of a world, with no sessions.
func NewEndpoints(w *World) *Endpoints {
	return &Endpoints{w: w, now: time.Now, tokens: map[string]imdsToken{},
		creds: map[string]*sessionCred{}, current: map[string]*sessionCred{}}
}

func randomText(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// credentialsFor returns the role credentials of an instance, issuing new
// ones when it has none with more than credentialRefresh left.
func (e *Endpoints) credentialsFor(instance, role string) sessionCred {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	key := instance + "/" + role
	if c := e.current[key]; c != nil && c.Expires.Sub(now) > credentialRefresh {
		return *c
	}
	secret := make([]byte, 30)
	token := make([]byte, 180)
	rand.Read(secret)
	rand.Read(token)
	c := &sessionCred{
		AccessKeyID: "ASIA" + randomText(16, upperDigits),
		Secret:      base64.StdEncoding.EncodeToString(secret),
		Token:       "IQoJb3JpZ2luX2VjE" + base64.StdEncoding.EncodeToString(token),
		Instance:    instance, Role: role,
		Issued: now.UTC().Truncate(time.Second), Expires: now.Add(CredentialLifetime).UTC().Truncate(time.Second),
	}
	e.creds[c.AccessKeyID] = c
	e.current[key] = c
	for k, old := range e.creds {
		if now.After(old.Expires) {
			delete(e.creds, k)
		}
	}
	return *c
}

// credential returns the issued credentials of an access key id.
func (e *Endpoints) credential(accessKeyID string) (sessionCred, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.creds[accessKeyID]
	if c == nil {
		return sessionCred{}, false
	}
	return *c, true
}

// IMDSHandler serves the instance metadata service of one VPC: the caller
// is the VPC's instance with the request's source address.
func (e *Endpoints) IMDSHandler(vpcID string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		e.serveIMDS(rw, r, vpcID)
	})
}

func imdsError(rw http.ResponseWriter, status int) {
	rw.Header().Set("Content-Type", "text/html")
	rw.WriteHeader(status)
	text := http.StatusText(status)
	fmt.Fprintf(rw, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>%d - %s</title>\n </head>\n <body>\n  <h1>%d - %s</h1>\n </body>\n</html>\n", status, text, status, text)
}

func (e *Endpoints) serveIMDS(rw http.ResponseWriter, r *http.Request, vpcID string) {
	m, err := e.w.Load()
	if err != nil {
		imdsError(rw, http.StatusInternalServerError)
		return
	}
	src, _, _ := net.SplitHostPort(r.RemoteAddr)
	var inst *Instance
	for _, i := range m.SortedInstances() {
		if s := m.Subnets[i.Subnet]; s != nil && s.VPC == vpcID && i.IP == src {
			inst = i
		}
	}
	if inst == nil {
		imdsError(rw, http.StatusForbidden)
		return
	}
	if inst.Metadata.HTTPEndpoint == "disabled" {
		// As on AWS: the endpoint does not answer at all.
		if hj, ok := rw.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		imdsError(rw, http.StatusForbidden)
		return
	}
	now := e.now()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			imdsError(rw, http.StatusMethodNotAllowed)
			return
		}
		// A proxied request (X-Forwarded-For) never gets a token.
		if r.Header.Get("X-Forwarded-For") != "" {
			imdsError(rw, http.StatusForbidden)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > maxTokenTTL {
			imdsError(rw, http.StatusBadRequest)
			return
		}
		token := "AQAEA" + randomText(51, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
		e.mu.Lock()
		for k, t := range e.tokens {
			if now.After(t.expires) {
				delete(e.tokens, k)
			}
		}
		e.tokens[token] = imdsToken{instance: inst.ID, expires: now.Add(time.Duration(ttl) * time.Second)}
		e.mu.Unlock()
		rw.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(rw, token)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		imdsError(rw, http.StatusMethodNotAllowed)
		return
	}
	if token := r.Header.Get("X-aws-ec2-metadata-token"); token != "" {
		e.mu.Lock()
		t, ok := e.tokens[token]
		e.mu.Unlock()
		if !ok || t.instance != inst.ID || now.After(t.expires) {
			imdsError(rw, http.StatusUnauthorized)
			return
		}
	} else if inst.Metadata.HTTPTokens == "required" {
		imdsError(rw, http.StatusUnauthorized)
		return
	}
	role := ""
	if inst.Profile != "" {
		role = m.roleOfProfile(inst.Profile)
	}
	const md = "/latest/meta-data/"
	text := func(s string) {
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(rw, s)
	}
	switch p := r.URL.Path; {
	case p == "/latest/meta-data" || p == md:
		items := []string{"ami-id", "hostname", "instance-id", "instance-type", "local-hostname", "local-ipv4", "mac", "placement/"}
		if role != "" {
			items = append(items, "iam/")
		}
		text(strings.Join(items, "\n"))
	case p == md+"instance-id":
		text(inst.ID)
	case p == md+"ami-id":
		text(inst.AMI)
	case p == md+"instance-type":
		text(inst.InstanceType)
	case p == md+"local-ipv4":
		text(inst.IP)
	case p == md+"mac":
		text(inst.MAC)
	case p == md+"hostname" || p == md+"local-hostname":
		text("ip-" + strings.ReplaceAll(inst.IP, ".", "-") + "." + inst.Region + ".compute.internal")
	case p == md+"placement/" || p == md+"placement":
		text("availability-zone\nregion")
	case p == md+"placement/region":
		text(inst.Region)
	case p == md+"placement/availability-zone":
		s := m.Subnets[inst.Subnet]
		text(s.zone())
	case role != "" && (p == md+"iam" || p == md+"iam/"):
		text("info\nsecurity-credentials/")
	case role != "" && p == md+"iam/info":
		c := e.credentialsFor(inst.ID, role)
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(rw, "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : %q,\n  \"InstanceProfileArn\" : \"arn:aws:iam::%s:instance-profile/%s\",\n  \"InstanceProfileId\" : %q\n}",
			c.Issued.Format(time.RFC3339), awsmodel.Account, inst.Profile, awsmodel.IAMUniqueID("AIPA", inst.Profile))
	case role != "" && (p == md+"iam/security-credentials/" || p == md+"iam/security-credentials"):
		text(role)
	case role != "" && p == md+"iam/security-credentials/"+role:
		c := e.credentialsFor(inst.ID, role)
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(rw, "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : %q,\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : %q,\n  \"SecretAccessKey\" : %q,\n  \"Token\" : %q,\n  \"Expiration\" : %q\n}",
			c.Issued.Format(time.RFC3339), c.AccessKeyID, c.Secret, c.Token, c.Expires.Format(time.RFC3339))
	default:
		imdsError(rw, http.StatusNotFound)
	}
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
