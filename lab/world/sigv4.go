package world

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4, as the EC2 API checks it (docs.aws.amazon.com,
// "Create a signed AWS API request"): the canonical request (method,
// canonical URI, canonical query string, the signed headers' canonical
// lines, the signed header list, the payload's SHA-256), the string to sign
// over the credential scope date/region/service/aws4_request, and the
// signing key derived from the secret by HMAC-SHA256 down that scope.

// sigv4Request is what a request's Authorization header claims.
type sigv4Request struct {
	AccessKey, Date, Region, Service string
	SignedHeaders                    []string
	Signature                        string
	// Time is X-Amz-Date.
	Time time.Time
	// Token is x-amz-security-token ("" none).
	Token string
}

// authError is an EC2 API error: code, message and HTTP status.
type authError struct {
	Status        int
	Code, Message string
}

func (e *authError) Error() string { return e.Code + ": " + e.Message }

func authFailure(msg string) *authError {
	return &authError{Status: http.StatusUnauthorized, Code: "AuthFailure", Message: msg}
}

const sigv4Algorithm = "AWS4-HMAC-SHA256"

// maxClockSkew is how far X-Amz-Date may be from the server's clock.
const maxClockSkew = 15 * time.Minute

// parseSigV4 reads the Authorization header of a signed request.
func parseSigV4(r *http.Request) (*sigv4Request, *authError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	alg, rest, _ := strings.Cut(h, " ")
	if alg != sigv4Algorithm {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	s := &sigv4Request{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, authFailure("AWS was not able to validate the provided access credentials")
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return nil, authFailure("AWS was not able to validate the provided access credentials")
			}
			s.AccessKey, s.Date, s.Region, s.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	if s.AccessKey == "" || len(s.SignedHeaders) == 0 || s.Signature == "" {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	if !sort.StringsAreSorted(s.SignedHeaders) || !contains(s.SignedHeaders, "host") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil || !contains(s.SignedHeaders, "x-amz-date") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	s.Time = t
	if s.Date != t.Format("20060102") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	s.Token = r.Header.Get("X-Amz-Security-Token")
	return s, nil
}

// verifySigV4 checks a request's signature with the secret of its access
// key; body is the request's payload as received.
func verifySigV4(r *http.Request, body []byte, s *sigv4Request, secret string, now time.Time) *authError {
	if d := now.Sub(s.Time); d > maxClockSkew || d < -maxClockSkew {
		return &authError{Status: http.StatusBadRequest, Code: "RequestExpired",
			Message: fmt.Sprintf("Request has expired. Timestamp date is %s", s.Time.Format("20060102T150405Z"))}
	}
	payload := sha256Hex(body)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != "UNSIGNED-PAYLOAD" && claimed != payload {
		return authFailure("AWS was not able to validate the provided access credentials")
	}
	want := sigv4Signature(r, payload, s, secret)
	if !hmac.Equal([]byte(want), []byte(s.Signature)) {
		return authFailure("AWS was not able to validate the provided access credentials")
	}
	return nil
}

// sigv4Signature computes a request's signature.
func sigv4Signature(r *http.Request, payloadHash string, s *sigv4Request, secret string) string {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range s.SignedHeaders {
		canon.WriteString(name + ":" + canonicalHeader(r, name) + "\n")
	}
	canon.WriteString("\n" + strings.Join(s.SignedHeaders, ";") + "\n" + payloadHash)
	scope := strings.Join([]string{s.Date, s.Region, s.Service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigv4Algorithm, s.Time.Format("20060102T150405Z"), scope, sha256Hex([]byte(canon.String()))}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), s.Date)
	key = hmacSHA256(key, s.Region)
	key = hmacSHA256(key, s.Service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// canonicalHeader is a header's values, trimmed, inner runs of spaces made
// one, joined by commas.
func canonicalHeader(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values(name)
		if len(vals) == 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalQuery sorts the query's parameters by name, then value, each
// encoded as SigV4 wants (RFC 3986 unreserved characters kept).
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		pairs = append(pairs, kv{uriEncode(dk), uriEncode(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
