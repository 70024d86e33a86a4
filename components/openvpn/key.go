// Package openvpn renders everything an OpenVPN point-to-point static-key
// tunnel needs on a Linux host: the key file, the configuration, and the
// idempotent shell scripts that install, start, check and remove it.
//
// Everything here is a pure function of its inputs, so it is tested without
// Pulumi, and the same text runs on an EC2 instance and in the local lab.
package openvpn

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// StaticKeyBytes is the size of an OpenVPN static key: 2048 bits.
const StaticKeyBytes = 256

const (
	staticKeyBegin = "-----BEGIN OpenVPN Static key V1-----"
	staticKeyEnd   = "-----END OpenVPN Static key V1-----"
	staticKeyLine  = 32 // hex characters per line, 16 lines
)

// FormatStaticKey renders 256 bytes, given as hex, in the "OpenVPN Static key
// V1" file format: a header, 16 lines of 32 lowercase hex characters and a
// footer. Errors never repeat the input.
func FormatStaticKey(hexKey string) (string, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil {
		return "", fmt.Errorf("static key: input is not hex")
	}
	if len(raw) != StaticKeyBytes {
		return "", fmt.Errorf("static key: got %d bytes, want %d", len(raw), StaticKeyBytes)
	}
	h := hex.EncodeToString(raw)
	var b strings.Builder
	b.WriteString(staticKeyBegin + "\n")
	for i := 0; i < len(h); i += staticKeyLine {
		b.WriteString(h[i:i+staticKeyLine] + "\n")
	}
	b.WriteString(staticKeyEnd + "\n")
	return b.String(), nil
}

// ValidStaticKey reports whether s is a well-formed V1 static key file.
func ValidStaticKey(s string) bool {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) != 18 || lines[0] != staticKeyBegin || lines[17] != staticKeyEnd {
		return false
	}
	for _, l := range lines[1:17] {
		if len(l) != staticKeyLine || strings.Trim(l, "0123456789abcdef") != "" {
			return false
		}
	}
	return true
}
