// Package sshkey derives a deterministic Ed25519 SSH key pair from a random
// seed, so a Pulumi stack can keep only the seed (a secret random resource)
// and get the same key pair on every run.
package sshkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SeedBytes is the size of an Ed25519 seed.
const SeedBytes = ed25519.SeedSize

// Labels of the check bytes, hashed with the seed. The host key's label is
// the one its hand-written serialisation used, so its text is unchanged
// (a changed text would replace every instance).
const (
	loginCheckLabel = "vpclink login key check"
	hostCheckLabel  = "vpclink host key check"
)

// loginComment is the login key's comment: the one of its authorized_keys
// line, so `ssh-keygen -y` prints that line and ssh-add -l names the key.
const loginComment = "vpclink"

// Pair is an SSH key pair.
type Pair struct {
	// PrivateKeyOpenSSH is the private key in OpenSSH's own format
	// ("BEGIN OPENSSH PRIVATE KEY", comment "vpclink"), which every OpenSSH
	// since 6.5 and Go's SSH client read (OpenSSH reads Ed25519 keys in
	// PKCS#8 only from 9.6). Its check bytes are derived from the seed, so
	// it is the same on every run.
	PrivateKeyOpenSSH string
	// AuthorizedKey is the public key as one authorized_keys line, without a
	// trailing newline.
	AuthorizedKey string
}

// FromSeed derives the key pair of a hex-encoded 32-byte seed. Errors never
// repeat the seed.
func FromSeed(seedHex string) (Pair, error) {
	seed, err := parseSeed(seedHex)
	if err != nil {
		return Pair{}, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	text, err := marshalOpenSSH(priv, loginComment, checkBytes(loginCheckLabel, seed))
	if err != nil {
		return Pair{}, err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return Pair{}, fmt.Errorf("sshkey: encode public key: %w", err)
	}
	return Pair{
		PrivateKeyOpenSSH: text,
		AuthorizedKey:     strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + loginComment,
	}, nil
}

// HostKey is an SSH host key pair for an instance, in the forms cloud-init
// takes (`ssh_keys: {ed25519_private, ed25519_public}`).
type HostKey struct {
	// PrivateKeyOpenSSH is the private key in OpenSSH's own format
	// ("BEGIN OPENSSH PRIVATE KEY", no comment), as sshd reads host keys.
	// Its check bytes are derived from the seed, so it is the same on every
	// run.
	PrivateKeyOpenSSH string
	// PublicKey is the public key as "ssh-ed25519 AAAA...", without comment:
	// what a client pins and what known_hosts holds after the host name.
	PublicKey string
}

// HostKeyFromSeed derives an Ed25519 host key from a hex-encoded 32-byte
// seed. Errors never repeat the seed.
func HostKeyFromSeed(seedHex string) (HostKey, error) {
	seed, err := parseSeed(seedHex)
	if err != nil {
		return HostKey{}, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	text, err := marshalOpenSSH(priv, "", checkBytes(hostCheckLabel, seed))
	if err != nil {
		return HostKey{}, err
	}
	sshPub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return HostKey{}, fmt.Errorf("sshkey: encode public key: %w", err)
	}
	return HostKey{
		PrivateKeyOpenSSH: text,
		PublicKey:         strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))),
	}, nil
}

func parseSeed(seedHex string) ([]byte, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil || len(seed) != SeedBytes {
		return nil, fmt.Errorf("sshkey: seed must be %d bytes of hex", SeedBytes)
	}
	return seed, nil
}

// checkBytes are the 4 check bytes of a key file: the start of
// sha256(label || seed). They only let a reader tell a wrong passphrase;
// unencrypted, any value does, as long as it is the same on every run.
func checkBytes(label string, seed []byte) uint32 {
	sum := sha256.Sum256(append([]byte(label), seed...))
	return binary.BigEndian.Uint32(sum[:4])
}

// marshalOpenSSH serialises priv with ssh.MarshalPrivateKey, replaces its
// random check bytes by check, and checks that the result parses back to
// priv. Errors never show key material.
func marshalOpenSSH(priv ed25519.PrivateKey, comment string, check uint32) (string, error) {
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return "", fmt.Errorf("sshkey: encode private key: %w", err)
	}
	if err := pinCheck(block.Bytes, check); err != nil {
		return "", fmt.Errorf("sshkey: encode private key: %w", err)
	}
	text := armor(block.Type, block.Bytes)
	raw, err := ssh.ParseRawPrivateKey([]byte(text))
	if err != nil {
		return "", fmt.Errorf("sshkey: encoded private key does not parse: %w", err)
	}
	back, ok := raw.(*ed25519.PrivateKey)
	if !ok || !priv.Equal(*back) {
		return "", errors.New("sshkey: encoded private key does not parse back to the key")
	}
	return text, nil
}

// pinCheck overwrites, in place, the two check uint32s of an unencrypted
// openssh-key-v1 blob (PROTOCOL.key in OpenSSH): after the magic come the
// strings cipher, kdf and kdf options, the uint32 number of keys, the public
// key string and the private section string, which starts with check1 and
// check2.
func pinCheck(blob []byte, check uint32) error {
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(blob, []byte(magic)) {
		return errors.New("not an openssh-key-v1 blob")
	}
	rest := blob[len(magic):]
	str := func() ([]byte, error) {
		if len(rest) < 4 {
			return nil, errors.New("openssh-key-v1 blob cut short")
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(len(rest)-4) < uint64(n) {
			return nil, errors.New("openssh-key-v1 blob cut short")
		}
		s := rest[4 : 4+n]
		rest = rest[4+n:]
		return s, nil
	}
	var fields [3][]byte // cipher, kdf, kdf options
	for i := range fields {
		s, err := str()
		if err != nil {
			return err
		}
		fields[i] = s
	}
	if string(fields[0]) != "none" || string(fields[1]) != "none" || len(fields[2]) != 0 {
		return errors.New("openssh-key-v1 blob is encrypted")
	}
	if len(rest) < 4 || binary.BigEndian.Uint32(rest) != 1 {
		return errors.New("openssh-key-v1 blob does not hold one key")
	}
	rest = rest[4:]
	if _, err := str(); err != nil { // public key
		return err
	}
	section, err := str()
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("openssh-key-v1 blob has trailing data")
	}
	if len(section) < 8 || !bytes.Equal(section[:4], section[4:8]) {
		return errors.New("openssh-key-v1 private section lacks its check bytes")
	}
	binary.BigEndian.PutUint32(section[0:4], check)
	binary.BigEndian.PutUint32(section[4:8], check)
	return nil
}

// armor writes blob as OpenSSH does (sshkey.c): base64 in lines of 70
// characters between BEGIN and END lines. encoding/pem would wrap at 64, and
// a changed text of a host key would replace every instance.
func armor(typ string, blob []byte) string {
	b64 := base64.StdEncoding.EncodeToString(blob)
	var out strings.Builder
	out.WriteString("-----BEGIN " + typ + "-----\n")
	for len(b64) > 70 {
		out.WriteString(b64[:70] + "\n")
		b64 = b64[70:]
	}
	out.WriteString(b64 + "\n-----END " + typ + "-----\n")
	return out.String()
}
