package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecipeHash(t *testing.T) {
	a := &recipe{name: "x", suite: "trixie", packages: []string{"a", "b"}}
	b := &recipe{name: "x", suite: "trixie", packages: []string{"a", "b", "c"}}
	if a.hash() == b.hash() {
		t.Fatal("a changed package list must change the hash")
	}
	if a.hash() != (&recipe{name: "x", suite: "trixie", packages: []string{"a", "b"}}).hash() {
		t.Fatal("hash not stable")
	}
	la := &recipe{name: "l", suite: "trixie", layerOf: a, install: []string{"openvpn"}}
	lb := &recipe{name: "l", suite: "trixie", layerOf: b, install: []string{"openvpn"}}
	if la.hash() == lb.hash() {
		t.Fatal("a changed base must change the layer's hash")
	}
}

func TestAptSourceLine(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:8080", "http://10.0.0.1:8080/"} {
		if got := AptSourceLine(u); got != "deb [trusted=yes] http://10.0.0.1:8080/ ./\n" {
			t.Errorf("AptSourceLine(%q) = %q", u, got)
		}
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("VPCLINK_LAB_CACHE", "/x/y")
	if got := CacheDir(Options{}); got != "/x/y" {
		t.Errorf("env: %s", got)
	}
	if got := CacheDir(Options{CacheDir: "/z"}); got != "/z" {
		t.Errorf("option: %s", got)
	}
}

func TestUnknownFlavour(t *testing.T) {
	_, err := Build(context.Background(), Options{CacheDir: t.TempDir(), Flavours: []string{"bookworm"}})
	if err == nil || !strings.Contains(err.Error(), "unknown image flavour") {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteIndex(t *testing.T) {
	dir := t.TempDir()
	if err := writeIndex(dir, []byte("Package: x\nVersion: 1\n\n")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Packages", "Packages.gz", "Release"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	rel, _ := os.ReadFile(filepath.Join(dir, "Release"))
	if !strings.Contains(string(rel), "SHA256:\n ") || !strings.Contains(string(rel), " Packages.gz\n") {
		t.Errorf("Release:\n%s", rel)
	}
}
