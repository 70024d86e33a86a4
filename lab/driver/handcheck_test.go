package driver

import (
	"strings"
	"testing"
)

func TestHandCheckFromTheREADME(t *testing.T) {
	for _, prefix := range []string{defaultPrefix, "vt1234"} {
		block, err := HandCheck("../..", prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"scripts/lab pulumi ", "sshPrivateKey > vpclink.key", "netns exec " + prefix + "-op ssh -i vpclink.key", "ping ", "traceroute "} {
			if !strings.Contains(block, want) {
				t.Errorf("prefix %s: the hand-check has no %q:\n%s", prefix, want, block)
			}
		}
		if prefix != defaultPrefix && (strings.Contains(block, defaultPrefix+"-op") || !strings.Contains(block, "-prefix "+prefix+" --")) {
			t.Errorf("prefix %s not applied:\n%s", prefix, block)
		}
	}
}

// ForStack points the README's block at the stack that is up: the
// reference stack's is unchanged; the hub stack's pings from frankfurt's
// terminal to paris's; a stack without terminals at both ends of a link
// gets none.
func TestHandCheckForStack(t *testing.T) {
	block, err := HandCheck("../..", "vt1234")
	if err != nil {
		t.Fatal(err)
	}
	site := func(term string) map[string]any {
		m := map[string]any{"vpnPublicIp": "198.51.100.1"}
		if term != "" {
			m["terminalPublicIp"], m["terminalPrivateIp"] = "198.51.100.2", term
		}
		return m
	}
	ref := map[string]any{
		"sites": map[string]any{"a": site("10.0.1.30"), "b": site("10.1.1.40")},
		"links": map[string]any{"a-b": map[string]any{"sites": []any{"a", "b"}}},
	}
	if got := ForStack(block, ref); got != block {
		t.Errorf("the reference stack's block changed:\n%s", got)
	}
	hub := map[string]any{
		"sites": map[string]any{"frankfurt": site("10.0.1.40"), "paris": site("10.1.1.40"), "no-term": site("")},
		"links": map[string]any{"frankfurt-paris": map[string]any{"sites": []any{"frankfurt", "paris"}}, "a-no-term": map[string]any{"sites": []any{"no-term", "paris"}}},
	}
	got := ForStack(block, hub)
	if !strings.Contains(got, "jq -r .frankfurt.terminalPublicIp") || !strings.Contains(got, "ping -c 3 10.1.1.40") || strings.Contains(got, ".a.terminalPublicIp") {
		t.Errorf("hub stack:\n%s", got)
	}
	hub["links"] = map[string]any{"x": map[string]any{"sites": []any{"no-term", "paris"}}}
	if got := ForStack(block, hub); got != "" {
		t.Errorf("no link with terminals at both ends, yet:\n%s", got)
	}
	dashed := map[string]any{
		"sites": map[string]any{"eu-1": site("10.0.1.40"), "us-1": site("10.9.1.40")},
		"links": map[string]any{"eu-1-us-1": map[string]any{"sites": []any{"eu-1", "us-1"}}},
	}
	if got := ForStack(block, dashed); !strings.Contains(got, `jq -r '.["eu-1"].terminalPublicIp'`) || !strings.Contains(got, "ping -c 3 10.9.1.40") {
		t.Errorf("dashed site names:\n%s", got)
	}
}
