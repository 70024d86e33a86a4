package world

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The lab's own certificate authority, made per lab by Base: it signs the
// EC2 endpoint's certificate (SANs ec2.<region>.amazonaws.com for every
// region in awsmodel.Regions), and booted hosts trust it (booted.go).

// endpointsDir holds the CA, the endpoint's certificate and the daemon's
// PID file and log.
func (w *World) endpointsDir() string { return filepath.Join(w.Dir, "endpoints") }

// CACertFile is the lab CA's certificate (PEM).
func (w *World) CACertFile() string { return filepath.Join(w.endpointsDir(), "ca.crt") }

func (w *World) serverCertFile() string { return filepath.Join(w.endpointsDir(), "server.crt") }
func (w *World) serverKeyFile() string  { return filepath.Join(w.endpointsDir(), "server.key") }

// makeCA writes a new CA and the endpoint's certificate and key into dir.
func makeCA(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		return n
	}
	ca := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "vpclink lab CA " + filepath.Base(filepath.Dir(dir)), Organization: []string{"vpclink lab"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	var names []string
	for _, r := range awsmodel.Regions {
		names = append(names, awsmodel.EC2Host(r))
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: awsmodel.EC2Host("us-east-1")},
		DNSNames: names, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	write := func(name, typ string, der []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
	}
	if err := write("ca.crt", "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := write("server.crt", "CERTIFICATE", leafDER, 0o644); err != nil {
		return err
	}
	// The CA's key is not kept: nothing else is ever signed.
	return write("server.key", "EC PRIVATE KEY", keyDER, 0o600)
}
