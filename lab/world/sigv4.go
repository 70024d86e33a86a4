package world

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS Signature Version 4, as the EC2 API checks it (docs.aws.amazon.com,
// "Create a signed AWS API request"): the lab reads what the request
// claims (key, scope, signed headers, date, token) and recomputes the
// signature with the AWS SDK for Go's own signer and the secret it issued.

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
	s, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if !sort.StringsAreSorted(s.SignedHeaders) || !contains(s.SignedHeaders, "host") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	date := r.Header.Get("X-Amz-Date")
	t, terr := time.Parse("20060102T150405Z", date)
	if terr != nil || !contains(s.SignedHeaders, "x-amz-date") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	s.Time = t
	if s.Date != t.Format("20060102") {
		return nil, authFailure("AWS was not able to validate the provided access credentials")
	}
	s.Token = r.Header.Get("X-Amz-Security-Token")
	return s, nil
}

// parseAuthorization reads an Authorization header's algorithm, credential
// (key, date, region, service), signed headers and signature.
func parseAuthorization(h string) (*sigv4Request, *authError) {
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
	want, err := sigv4Signature(r, payload, s, secret)
	if err != nil || !hmac.Equal([]byte(want), []byte(s.Signature)) {
		return authFailure("AWS was not able to validate the provided access credentials")
	}
	return nil
}

// sigv4Signature computes a request's signature with the AWS SDK's own
// signer (aws-sdk-go-v2's aws/signer/v4), over a copy of the request that
// holds only the headers the client signed: the SDK signs every header it
// is given, and a different list would give another signature. It fails
// when the SDK would sign another list than the client did (a header the
// client left out that SigV4 requires, such as the session token).
func sigv4Signature(r *http.Request, payloadHash string, s *sigv4Request, secret string) (string, error) {
	u := *r.URL
	u.Scheme, u.Host = "https", r.Host
	req, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Host = r.Host
	for _, name := range s.SignedHeaders {
		switch name {
		case "host", "x-amz-date", "x-amz-security-token":
			// The signer writes these itself (host from req.Host, the
			// date from the signing time, the token from the credentials).
		case "content-length":
			// The signer signs it from ContentLength only.
			req.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(name) {
				req.Header.Add(name, v)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: secret, SessionToken: s.Token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, s.Service, s.Region, s.Time); err != nil {
		return "", err
	}
	got, aerr := parseAuthorization(req.Header.Get("Authorization"))
	if aerr != nil {
		return "", aerr
	}
	if strings.Join(got.SignedHeaders, ";") != strings.Join(s.SignedHeaders, ";") {
		return "", fmt.Errorf("signed headers %s, where SigV4 signs %s", strings.Join(s.SignedHeaders, ";"), strings.Join(got.SignedHeaders, ";"))
	}
	return got.Signature, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
