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
