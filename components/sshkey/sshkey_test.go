package sshkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// testSeeds are the seeds every table runs over: the RFC ones, repeated
// bytes (those of the other tests), the extremes, and some hashes.
func testSeeds() []string {
	seeds := []string{
		rfcSeed, otherSeed,
		strings.Repeat("5a", SeedBytes), strings.Repeat("a5", SeedBytes), strings.Repeat("42", SeedBytes),
		strings.Repeat("00", SeedBytes), strings.Repeat("ff", SeedBytes),
	}
	for i := byte(0); i < 8; i++ {
		sum := sha256.Sum256([]byte{'v', 'p', 'c', i})
		seeds = append(seeds, hex.EncodeToString(sum[:]))
	}
	return seeds
}

// legacyHostKeyOpenSSH is HostKeyFromSeed's serialisation before it used
// x/crypto/ssh, kept as it was (hand-written openssh-key-v1): the new one
// must give the same bytes, or every instance, whose user data holds the
// host key, would be replaced.
func legacyHostKeyOpenSSH(t *testing.T, seedHex string) string {
	t.Helper()
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil || len(seed) != SeedBytes {
		t.Fatalf("bad test seed")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
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
	return pemText.String()
}

// Recorded before the change (hand-written serialisation, PKCS#8 login
// key): the outputs the deployed stacks hold.
var recorded = []struct {
	seed, authorizedKey, hostPublic, hostPrivate string
}{
	{
		seed:          rfcSeed,
		authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea vpclink",
		hostPublic:    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
		hostPrivate:   "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGgAAAIj8koIo/JKC\nKAAAAAtzc2gtZWQyNTUxOQAAACDXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg\nAAAECdYbGd7/1aYLqESvSS7CzEREnFaXsyaRlwO6wDHK5/YNdamAGCsQq31Uv+08lkBzoO\n4XLz2qYjJa8CGmj3B1EaAAAAAAECAwQF\n-----END OPENSSH PRIVATE KEY-----\n",
	},
	{
		seed:          otherSeed,
		authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM vpclink",
		hostPublic:    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",
		hostPrivate:   "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACA9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKvRmDAAAAIgxBDdfMQQ3\nXwAAAAtzc2gtZWQyNTUxOQAAACA9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKvRmDA\nAAAEBMzQibKP+W2p22w0bsEU4PW4oxnzWrpiTajPbtT7im+z1AF8PoQ4lakrcKp00bfryc\nmCzPLsSWjMDNVfEq9GYMAAAAAAECAwQF\n-----END OPENSSH PRIVATE KEY-----\n",
	},
	{
		seed:          strings.Repeat("42", SeedBytes),
		authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS vpclink",
		hostPublic:    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS",
		hostPrivate:   "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACAhUvjRm3kdJEUyQuFfLqtst8/6e2pe0wCXlg4GmIHbEgAAAIhGOiLHRjoi\nxwAAAAtzc2gtZWQyNTUxOQAAACAhUvjRm3kdJEUyQuFfLqtst8/6e2pe0wCXlg4GmIHbEg\nAAAEBCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQiFS+NGbeR0kRTJC4V8uq2y3\nz/p7al7TAJeWDgaYgdsSAAAAAAECAwQF\n-----END OPENSSH PRIVATE KEY-----\n",
	},
}

// recordedLogin is the login key in OpenSSH format for rfcSeed, recorded
// when it was introduced: it is connection.privateKey of every remote
// command, so a changed text would update every command on every run.
const recordedLogin = "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
	"QyNTUxOQAAACDXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGgAAAJCc/3zfnP98\n" +
	"3wAAAAtzc2gtZWQyNTUxOQAAACDXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg\n" +
	"AAAECdYbGd7/1aYLqESvSS7CzEREnFaXsyaRlwO6wDHK5/YNdamAGCsQq31Uv+08lkBzoO\n" +
	"4XLz2qYjJa8CGmj3B1EaAAAAB3ZwY2xpbmsBAgMEBQY=\n" +
	"-----END OPENSSH PRIVATE KEY-----\n"

// The host key's text is the one of the hand-written serialisation, byte
// for byte, and the public keys are those the stacks hold.
func TestUnchangedOutputs(t *testing.T) {
	for _, r := range recorded {
		t.Run(r.seed[:8], func(t *testing.T) {
			if got := legacyHostKeyOpenSSH(t, r.seed); got != r.hostPrivate {
				t.Errorf("the test's copy of the old serialisation drifted:\n%s\nwant\n%s", got, r.hostPrivate)
			}
			h, err := HostKeyFromSeed(r.seed)
			if err != nil {
				t.Fatal(err)
			}
			if h.PrivateKeyOpenSSH != r.hostPrivate {
				t.Errorf("host key text changed (every instance would be replaced):\n%s\nwant\n%s", h.PrivateKeyOpenSSH, r.hostPrivate)
			}
			if h.PublicKey != r.hostPublic {
				t.Errorf("host public key %q, want %q", h.PublicKey, r.hostPublic)
			}
			p, err := FromSeed(r.seed)
			if err != nil {
				t.Fatal(err)
			}
			if p.AuthorizedKey != r.authorizedKey {
				t.Errorf("authorized key %q, want %q", p.AuthorizedKey, r.authorizedKey)
			}
		})
	}
	p, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatal(err)
	}
	if p.PrivateKeyOpenSSH != recordedLogin {
		t.Errorf("login key text changed (every remote command would be updated):\n%s\nwant\n%s", p.PrivateKeyOpenSSH, recordedLogin)
	}
}

func TestHostKeyGolden(t *testing.T) {
	for _, seed := range testSeeds() {
		t.Run(seed[:8], func(t *testing.T) {
			h, err := HostKeyFromSeed(seed)
			if err != nil {
				t.Fatal(err)
			}
			if want := legacyHostKeyOpenSSH(t, seed); h.PrivateKeyOpenSSH != want {
				t.Errorf("host key differs from the hand-written serialisation:\n%s\nwant\n%s", h.PrivateKeyOpenSSH, want)
			}
		})
	}
}

// kind is one of the package's two key derivations, seen the same way.
type kind struct {
	name string
	// derive gives the private key text and the public key line whose first
	// two fields the private key must give.
	derive func(seed string) (private, public string, err error)
	label  string
	// comment the key file holds.
	comment string
}

var kinds = []kind{
	{
		name: "login",
		derive: func(seed string) (string, string, error) {
			p, err := FromSeed(seed)
			return p.PrivateKeyOpenSSH, p.AuthorizedKey, err
		},
		label:   "vpclink login key check",
		comment: "vpclink",
	},
	{
		name: "host",
		derive: func(seed string) (string, string, error) {
			h, err := HostKeyFromSeed(seed)
			return h.PrivateKeyOpenSSH, h.PublicKey, err
		},
		label:   "vpclink host key check",
		comment: "",
	},
}

// stripComment is the "type base64" part of an authorized_keys line.
func stripComment(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[0] + " " + f[1]
}

func TestDeterministic(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			texts := map[string]string{}
			for _, seed := range testSeeds() {
				a, aPub, err := k.derive(seed)
				if err != nil {
					t.Fatal(err)
				}
				b, bPub, err := k.derive(seed)
				if err != nil {
					t.Fatal(err)
				}
				if a != b || aPub != bPub {
					t.Errorf("seed %s…: two runs gave different keys", seed[:8])
				}
				// Case and surrounding white space do not change the key.
				c, cPub, err := k.derive(" " + strings.ToUpper(seed) + "\n")
				if err != nil {
					t.Fatal(err)
				}
				if c != a || cPub != aPub {
					t.Errorf("seed %s…: uppercase seed gives another key", seed[:8])
				}
				if prev, ok := texts[a]; ok {
					t.Errorf("seeds %s… and %s… give the same key", prev[:8], seed[:8])
				}
				texts[a] = seed
			}
		})
	}
}

// openSSHFields decodes an unencrypted openssh-key-v1 text independently of
// the product: its check bytes and the comment of its key.
func openSSHFields(t *testing.T, text string) (check1, check2 uint32, comment string) {
	t.Helper()
	block, rest := pem.Decode([]byte(text))
	if block == nil || len(rest) != 0 || block.Type != "OPENSSH PRIVATE KEY" {
		t.Fatalf("not one OPENSSH PRIVATE KEY block")
	}
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(block.Bytes, []byte(magic)) {
		t.Fatal("no openssh-key-v1 magic")
	}
	var outer struct {
		Cipher, Kdf, KdfOpts string
		N                    uint32
		Pub, Priv            []byte
	}
	if err := ssh.Unmarshal(block.Bytes[len(magic):], &outer); err != nil {
		t.Fatalf("outer structure: %v", err)
	}
	if outer.Cipher != "none" || outer.Kdf != "none" || outer.KdfOpts != "" || outer.N != 1 {
		t.Fatalf("cipher %q kdf %q, %d keys", outer.Cipher, outer.Kdf, outer.N)
	}
	var inner struct {
		Check1, Check2 uint32
		Type           string
		Pub, Priv      []byte
		Comment        string
		Pad            []byte `ssh:"rest"`
	}
	if err := ssh.Unmarshal(outer.Priv, &inner); err != nil {
		t.Fatalf("private section: %v", err)
	}
	for i, b := range inner.Pad {
		if int(b) != i+1 {
			t.Errorf("padding %v", inner.Pad)
			break
		}
	}
	if len(outer.Priv)%8 != 0 {
		t.Errorf("private section of %d bytes, not a multiple of 8", len(outer.Priv))
	}
	return inner.Check1, inner.Check2, inner.Comment
}

// Each key is an unencrypted OpenSSH key of the seed's Ed25519 key, with
// its check bytes from the seed and the kind's label, that Go's parsers
// read back to the same key and the same public key.
func TestOpenSSHRoundTrip(t *testing.T) {
	for _, k := range kinds {
		for _, seedHex := range testSeeds() {
			t.Run(k.name+"/"+seedHex[:8], func(t *testing.T) {
				text, public, err := k.derive(seedHex)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(text, "-----BEGIN OPENSSH PRIVATE KEY-----\n") || !strings.HasSuffix(text, "\n-----END OPENSSH PRIVATE KEY-----\n") {
					t.Fatal("not an OpenSSH private key")
				}
				for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
					if len(l) > 70 {
						t.Errorf("line of %d characters, OpenSSH writes at most 70", len(l))
					}
				}
				if strings.Contains(strings.ToLower(text), seedHex) {
					t.Error("the seed appears in clear")
				}
				seed, _ := hex.DecodeString(seedHex)
				want := ed25519.NewKeyFromSeed(seed)

				check1, check2, comment := openSSHFields(t, text)
				sum := sha256.Sum256(append([]byte(k.label), seed...))
				if c := binary.BigEndian.Uint32(sum[:4]); check1 != c || check2 != c {
					t.Errorf("check bytes %08x %08x, want %08x (sha256 of %q and the seed)", check1, check2, c, k.label)
				}
				if comment != k.comment {
					t.Errorf("comment %q, want %q", comment, k.comment)
				}

				raw, err := ssh.ParseRawPrivateKey([]byte(text))
				if err != nil {
					t.Fatalf("ssh.ParseRawPrivateKey: %v", err)
				}
				got, ok := raw.(*ed25519.PrivateKey)
				if !ok {
					t.Fatalf("parsed as %T", raw)
				}
				if !want.Equal(*got) {
					t.Error("parsed key is not the seed's key")
				}

				signer, err := ssh.ParsePrivateKey([]byte(text))
				if err != nil {
					t.Fatalf("ssh.ParsePrivateKey: %v", err)
				}
				if pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); pub != stripComment(public) {
					t.Errorf("signer's public key %q, want %q", pub, stripComment(public))
				}
				msg := []byte("vpclink")
				sig, err := signer.Sign(nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(public))
				if err != nil {
					t.Fatal(err)
				}
				if err := pk.Verify(msg, sig); err != nil {
					t.Errorf("signature does not verify with the public key: %v", err)
				}
			})
		}
	}
}

// OpenSSH itself (ssh-keygen -y, which loads the key as ssh and sshd do)
// reads both keys and derives the public key the stack shows.
func TestSSHKeygenReads(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed (openssh-client): OpenSSH's reading of the keys is not checked; the Go parser tests ran")
	}
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		t.Logf("%s: %s", keygen, bytes.TrimSpace(out))
	}
	for _, k := range kinds {
		for _, seed := range testSeeds()[:4] {
			t.Run(k.name+"/"+seed[:8], func(t *testing.T) {
				text, public, err := k.derive(seed)
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(t.TempDir(), "key")
				if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(keygen, "-y", "-f", f).CombinedOutput()
				if err != nil {
					t.Fatalf("ssh-keygen cannot load the key: %v %s", err, out)
				}
				line := strings.TrimSpace(string(out))
				if stripComment(line) != stripComment(public) {
					t.Errorf("ssh-keygen -y: %q, want %q", line, public)
				}
				// ssh-keygen prints the file's comment, if any, after the key.
				if f := strings.Fields(line); len(f) > 2 && strings.Join(f[2:], " ") != k.comment {
					t.Errorf("ssh-keygen -y comment %q, want %q", strings.Join(f[2:], " "), k.comment)
				}
			})
		}
	}
}

// A Go SSH client, as pulumi-command (and its stand-in) is, logs in with
// the login key to a server that authorizes AuthorizedKey and presents the
// host key, which the client pins by PublicKey.
func TestGoClientLogsIn(t *testing.T) {
	login, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatal(err)
	}
	host, err := HostKeyFromSeed(otherSeed)
	if err != nil {
		t.Fatal(err)
	}
	authorized, _, _, _, err := ssh.ParseAuthorizedKey([]byte(login.AuthorizedKey))
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.ParsePrivateKey([]byte(host.PrivateKeyOpenSSH))
	if err != nil {
		t.Fatal(err)
	}
	server := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, os.ErrPermission
		},
	}
	server.AddHostKey(hostSigner)

	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(host.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	clientSigner, err := ssh.ParsePrivateKey([]byte(login.PrivateKeyOpenSSH))
	if err != nil {
		t.Fatal(err)
	}
	client := &ssh.ClientConfig{
		User:              "admin",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(clientSigner)},
		HostKeyCallback:   ssh.FixedHostKey(pinned),
		HostKeyAlgorithms: []string{pinned.Type()},
	}

	// A loopback socket: net.Pipe is unbuffered, and both ends send their
	// version line first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErr := make(chan error, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer s.Close()
		conn, chans, reqs, err := ssh.NewServerConn(s, server)
		if err == nil {
			go ssh.DiscardRequests(reqs)
			go func() {
				for ch := range chans {
					ch.Reject(ssh.Prohibited, "no channels")
				}
			}()
			err = conn.Wait()
		}
		serverErr <- err
	}()
	conn, err := ssh.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatalf("login with the generated key: %v", err)
	}
	conn.Close()
	select {
	case <-serverErr:
	case <-time.After(10 * time.Second):
		t.Error("server did not see the client leave")
	}
}

func TestPinCheckRejects(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, SeedBytes))
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	good := block.Bytes
	encrypted, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	twoKeys := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(twoKeys[15+4+4+4+4+4:], 2) // after magic, "none", "none", ""
	// The cipher and kdf names, "none" both, as if they were not.
	withName := func(at int, name string) []byte {
		b := append([]byte(nil), good...)
		copy(b[at:], name)
		return b
	}
	cipherAt, kdfAt := 15+4, 15+4+4+4
	if string(good[cipherAt:cipherAt+4]) != "none" || string(good[kdfAt:kdfAt+4]) != "none" {
		t.Fatal("test offsets do not point at the cipher and kdf names")
	}
	cases := map[string][]byte{
		"empty":         nil,
		"cipher":        withName(cipherAt, "aes0"),
		"kdf":           withName(kdfAt, "bcry"),
		"bad magic":     append([]byte("openssh-key-v2\x00"), good[15:]...),
		"cut short":     good[:len(good)-9],
		"trailing data": append(append([]byte(nil), good...), 0),
		"encrypted":     encrypted.Bytes,
		"two keys":      twoKeys,
	}
	for name, blob := range cases {
		t.Run(name, func(t *testing.T) {
			if err := pinCheck(append([]byte(nil), blob...), 1); err == nil {
				t.Error("accepted")
			}
		})
	}
	if err := pinCheck(append([]byte(nil), good...), 1); err != nil {
		t.Errorf("good blob: %v", err)
	}
}

func TestFromSeedFormat(t *testing.T) {
	p, err := FromSeed(rfcSeed)
	if err != nil {
		t.Fatalf("FromSeed: %v", err)
	}
	if !strings.HasPrefix(p.AuthorizedKey, "ssh-ed25519 AAAA") || !strings.HasSuffix(p.AuthorizedKey, " vpclink") {
		t.Errorf("authorized key %q is not `ssh-ed25519 AAAA... vpclink`", p.AuthorizedKey)
	}
	if strings.ContainsAny(p.AuthorizedKey, "\r\n") {
		t.Errorf("authorized key %q holds a line break", p.AuthorizedKey)
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
}

func TestSeedRejects(t *testing.T) {
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
	for _, k := range kinds {
		for name, seed := range cases {
			t.Run(k.name+"/"+name, func(t *testing.T) {
				private, public, err := k.derive(seed)
				if err == nil {
					t.Fatal("accepted")
				}
				if private != "" || public != "" {
					t.Error("returned a key alongside an error")
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
}
