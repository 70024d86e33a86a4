package sshkey

import (
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Test seeds: public test vectors, never used for anything real.
const (
	// RFC 8032, section 7.1, test 1.
	rfcSeed   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	// RFC 8032, section 7.1, test 2.
	otherSeed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
)

func TestFromSeedDeterministic(t *testing.T) {
	a, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatalf("FromSeed: %v", err)
	}
	b, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatalf("FromSeed: %v", err)
	}
	if a.PrivateKeyPEM != b.PrivateKeyPEM {
		t.Error("same seed, different private keys")
	}
	if a.AuthorizedKey != b.AuthorizedKey {
		t.Errorf("same seed, different public keys: %q, %q", a.AuthorizedKey, b.AuthorizedKey)
	}
	// Case and surrounding white space do not change the pair.
	c, err := FromSeed(" " + strings.ToUpper(rfcSeed) + "\n")
	if err != nil {
		t.Fatalf("FromSeed(uppercase): %v", err)
	}
	if c != a {
		t.Error("uppercase seed gives a different pair")
	}

	o, err := FromSeed(otherSeed)
	if err != nil {
		t.Fatalf("FromSeed: %v", err)
	}
	if o.PrivateKeyPEM == a.PrivateKeyPEM || o.AuthorizedKey == a.AuthorizedKey {
		t.Error("different seeds give the same key")
	}
}

func TestFromSeedFormat(t *testing.T) {
	p, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatalf("FromSeed: %v", err)
	}
	if !strings.HasPrefix(p.PrivateKeyPEM, "-----BEGIN PRIVATE KEY-----\n") || !strings.HasSuffix(p.PrivateKeyPEM, "-----END PRIVATE KEY-----\n") {
		t.Error("private key is not a PKCS#8 PEM block")
	}
	if !strings.HasPrefix(p.AuthorizedKey, "ssh-ed25519 AAAA") || !strings.HasSuffix(p.AuthorizedKey, " vpclink") {
		t.Errorf("authorized key %q is not `ssh-ed25519 AAAA... vpclink`", p.AuthorizedKey)
	}
	if strings.ContainsAny(p.AuthorizedKey, "\r\n") {
		t.Errorf("authorized key %q holds a line break", p.AuthorizedKey)
	}
	if strings.Contains(p.AuthorizedKey, rfcSeed) || strings.Contains(p.PrivateKeyPEM, rfcSeed) {
		t.Error("the seed appears in clear in the pair")
	}

	signer, err := ssh.ParsePrivateKey([]byte(p.PrivateKeyPEM))
	if err != nil {
		t.Fatalf("ssh.ParsePrivateKey: %v", err)
	}
	got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if want := strings.TrimSuffix(p.AuthorizedKey, " vpclink"); got != want {
		t.Errorf("public key of the private key = %q, authorized key = %q", got, want)
	}

	// The public key is the RFC 8032 one for this seed.
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(p.AuthorizedKey))
	if err != nil {
		t.Fatalf("ssh.ParseAuthorizedKey: %v", err)
	}
	if comment != "vpclink" || len(rest) != 0 {
		t.Errorf("comment %q, rest %q", comment, rest)
	}
	cpk, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		t.Fatalf("public key type %T", pub)
	}
	edPub, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		t.Fatalf("public key is %T, not Ed25519", cpk.CryptoPublicKey())
	}
	if hex.EncodeToString(edPub) != rfcPublic {
		t.Errorf("public key %x, want the RFC 8032 test 1 key %s", []byte(edPub), rfcPublic)
	}

	// Signatures made with the private key verify with the public key.
	msg := []byte("vpclink")
	sig, err := signer.Sign(nil, msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := pub.Verify(msg, sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if len(sig.Blob) != ed25519.SignatureSize {
		t.Errorf("signature of %d bytes, want %d", len(sig.Blob), ed25519.SignatureSize)
	}
}

func TestFromSeedRejects(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"31 bytes":       rfcSeed[:62],
		"33 bytes":       rfcSeed + "00",
		"64 bytes":       rfcSeed + rfcSeed,
		"odd length":     rfcSeed[:63],
		"not hex":        "zz" + rfcSeed[2:],
		"inner space":    rfcSeed[:32] + " " + rfcSeed[32:],
		"base64 of seed": "nWGxne/9WmC6hErykuwsxERJxWl7MmkZcDusAxyuf2A=",
	}
	for name, seed := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := FromSeed(seed)
			if err == nil {
				t.Fatal("accepted")
			}
			if p != (Pair{}) {
				t.Error("returned a key pair alongside an error")
			}
			msg := err.Error()
			// No 8-character window of the seed may appear in the message.
			s := strings.TrimSpace(seed)
			for i := 0; i+8 <= len(s); i++ {
				if strings.Contains(msg, s[i:i+8]) {
					t.Fatal("error repeats part of the seed (not shown)")
				}
			}
			if !strings.HasPrefix(msg, "sshkey:") {
				t.Errorf("error %q does not say what failed", msg)
			}
		})
	}
}

// The host key is what OpenSSH reads: ssh-keygen -y recovers the public
// key from the private file, and the same seed gives the same bytes.
func TestHostKeyFromSeed(t *testing.T) {
	seed := strings.Repeat("5a", SeedBytes)
	k, err := HostKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := HostKeyFromSeed(seed)
	if again != k {
		t.Error("the same seed gave another host key")
	}
	other, _ := HostKeyFromSeed(strings.Repeat("a5", SeedBytes))
	if other.PublicKey == k.PublicKey {
		t.Error("another seed gave the same host key")
	}
	signer, err := ssh.ParsePrivateKey([]byte(k.PrivateKeyOpenSSH))
	if err != nil {
		t.Fatalf("Go's ssh package cannot read the host key: %v", err)
	}
	if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != k.PublicKey {
		t.Errorf("private key's public half %q, want %q", got, k.PublicKey)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed (openssh-client); the Go parser check above ran")
	}
	f := filepath.Join(t.TempDir(), "host")
	if err := os.WriteFile(f, []byte(k.PrivateKeyOpenSSH), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(keygen, "-y", "-f", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen cannot read the host key: %v %s", err, out)
	}
	if strings.TrimSpace(string(out)) != k.PublicKey {
		t.Errorf("ssh-keygen -y: %q, want %q", out, k.PublicKey)
	}
	if _, err := HostKeyFromSeed("zz"); err == nil || strings.Contains(err.Error(), "zz") {
		t.Errorf("bad seed: %v", err)
	}
}
