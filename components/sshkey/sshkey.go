// Package sshkey derives a deterministic Ed25519 SSH key pair from a random
// seed, so a Pulumi stack can keep only the seed (a secret random resource)
// and get the same key pair on every run.
package sshkey

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SeedBytes is the size of an Ed25519 seed.
const SeedBytes = ed25519.SeedSize

// Pair is an SSH key pair.
type Pair struct {
	// PrivateKeyPEM is the private key as PKCS#8 PEM ("BEGIN PRIVATE KEY"),
	// which OpenSSH and Go's SSH client both read. It is deterministic, unlike
	// the OpenSSH format, whose check bytes are random.
	PrivateKeyPEM string
	// AuthorizedKey is the public key as one authorized_keys line, without a
	// trailing newline.
	AuthorizedKey string
}

// FromSeed derives the key pair of a hex-encoded 32-byte seed. Errors never
// repeat the seed.
func FromSeed(seedHex string) (Pair, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil || len(seed) != SeedBytes {
		return Pair{}, fmt.Errorf("sshkey: seed must be %d bytes of hex", SeedBytes)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Pair{}, fmt.Errorf("sshkey: encode private key: %w", err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return Pair{}, fmt.Errorf("sshkey: encode public key: %w", err)
	}
	return Pair{
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		AuthorizedKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " vpclink",
	}, nil
}
