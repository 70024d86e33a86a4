package stackfile

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`
config:
  vpclink:sites:
    - name: a
      vpcCidr: 10.0.0.0/16
  vpclink:tunnelPort: 1194
  vpclink:postDeployCheck: false
  vpclink:sshUser: ubuntu
  vpclink:extra:
    nested: {x: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"vpclink:sites":           `[{"name":"a","vpcCidr":"10.0.0.0/16"}]`,
		"vpclink:tunnelPort":      "1194",
		"vpclink:postDeployCheck": "false",
		"vpclink:sshUser":         "ubuntu",
		"vpclink:extra":           `{"nested":{"x":1}}`,
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}
	if len(cfg) != len(want) {
		t.Errorf("%d keys, want %d", len(cfg), len(want))
	}
}

func TestParseRefusesEncryptedValues(t *testing.T) {
	_, err := Parse([]byte("config:\n  vpclink:sshPrivateKey:\n    secure: AAABAxyz\n"))
	if err == nil || !strings.Contains(err.Error(), "vpclink:sshPrivateKey") || strings.Contains(err.Error(), "AAABAxyz") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadReferenceStack(t *testing.T) {
	cfg, err := Load("../../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg["vpclink:sites"], `"region":"eu-west-1"`) || !strings.Contains(cfg["vpclink:sites"], `"region":"sa-east-1"`) {
		t.Errorf("sites = %s", cfg["vpclink:sites"])
	}
}
