package driver

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/langgo"
)

// Every provider the program needs is a project plugin of the lab, at the
// version the program's SDK asks for (the SDKs' pulumi-plugin.json, read as
// the language host reads them): a stand-in reporting another version, or
// a plugin the program needs and the lab lacks, fails here.
func TestProjectPluginsMatchTheSDKs(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	need, err := (&langgo.Host{}).RequiredPlugins(context.Background(), repo, ".")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	plugins := ProjectPlugins("/bin")
	for _, p := range plugins.Providers {
		have[p.Name] = p.Version
	}
	if len(need) != len(have) {
		t.Errorf("the program needs %v, the lab has %v", need, have)
	}
	for _, p := range need {
		if have[p.Name] != p.Version {
			t.Errorf("the SDK asks for %s %s, the lab's stand-in reports %q", p.Name, p.Version, have[p.Name])
		}
	}
	if langs := fmt.Sprint(plugins.Languages); langs != "[{go  /bin}]" {
		t.Errorf("languages = %s", langs)
	}
}
