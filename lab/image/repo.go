package image

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writeIndex writes Packages, Packages.gz and an (unsigned) Release file for
// a flat repository, usable as "deb [trusted=yes] URL ./".
func writeIndex(repo string, packages []byte) error {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(packages)
	if err := zw.Close(); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{{"Packages", packages}, {"Packages.gz", gz.Bytes()}}
	var md5s, shas bytes.Buffer
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(repo, f.name), f.data, 0o644); err != nil {
			return err
		}
		m := md5.Sum(f.data)
		s := sha256.Sum256(f.data)
		fmt.Fprintf(&md5s, " %s %d %s\n", hex.EncodeToString(m[:]), len(f.data), f.name)
		fmt.Fprintf(&shas, " %s %d %s\n", hex.EncodeToString(s[:]), len(f.data), f.name)
	}
	release := fmt.Sprintf("Origin: vpclink-lab\nLabel: vpclink-lab\nSuite: lab\nCodename: lab\nDate: %s\nArchitectures: all amd64\nDescription: vpclink lab local packages\nMD5Sum:\n%sSHA256:\n%s",
		time.Now().UTC().Format(time.RFC1123), md5s.String(), shas.String())
	return os.WriteFile(filepath.Join(repo, "Release"), []byte(release), 0o644)
}
