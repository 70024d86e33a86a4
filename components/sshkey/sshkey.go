// Package sshkey derives a deterministic Ed25519 SSH key pair from a random
// seed, so a Pulumi stack can keep only the seed (a secret random resource)
// and get the same key pair on every run.
package sshkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
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

// HostKey is an SSH host key pair for an instance, in the forms cloud-init
// takes (`ssh_keys: {ed25519_private, ed25519_public}`).
type HostKey struct {
	// PrivateKeyOpenSSH is the private key in OpenSSH's own format
	// ("BEGIN OPENSSH PRIVATE KEY"), as sshd reads host keys. Its check
	// bytes are derived from the seed, so it is the same on every run.
	PrivateKeyOpenSSH string
	// PublicKey is the public key as "ssh-ed25519 AAAA...", without comment:
	// what a client pins and what known_hosts holds after the host name.
	PublicKey string
}

// HostKeyFromSeed derives an Ed25519 host key from a hex-encoded 32-byte
// seed. Errors never repeat the seed.
func HostKeyFromSeed(seedHex string) (HostKey, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil || len(seed) != SeedBytes {
		return HostKey{}, fmt.Errorf("sshkey: seed must be %d bytes of hex", SeedBytes)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return HostKey{}, fmt.Errorf("sshkey: encode public key: %w", err)
	}
	// openssh-key-v1 (PROTOCOL.key in OpenSSH), unencrypted.
	str := func(b []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
		return append(out, b...)
	}
	sum := sha256.Sum256(append([]byte("vpclink host key check"), seed...))
	check := sum[:4]
	var section []byte
	section = append(section, check...)
	section = append(section, check...)
	section = append(section, str([]byte(ssh.KeyAlgoED25519))...)
	section = append(section, str(pub)...)
	section = append(section, str(priv)...)
	section = append(section, str(nil)...) // no comment
	for i := byte(1); len(section)%8 != 0; i++ {
		section = append(section, i)
	}
	var blob []byte
	blob = append(blob, []byte("openssh-key-v1\x00")...)
	blob = append(blob, str([]byte("none"))...)
	blob = append(blob, str([]byte("none"))...)
	blob = append(blob, str(nil)...)
	blob = binary.BigEndian.AppendUint32(blob, 1)
	blob = append(blob, str(sshPub.Marshal())...)
	blob = append(blob, str(section)...)
	b64 := base64.StdEncoding.EncodeToString(blob)
	var pemText strings.Builder
	pemText.WriteString("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	for len(b64) > 70 {
		pemText.WriteString(b64[:70] + "\n")
		b64 = b64[70:]
	}
	pemText.WriteString(b64 + "\n-----END OPENSSH PRIVATE KEY-----\n")
	return HostKey{
		PrivateKeyOpenSSH: pemText.String(),
		PublicKey:         strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))),
	}, nil
}
