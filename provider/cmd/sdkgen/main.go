// Command sdkgen generates the vpclink package's Node.js or Python SDK
// from its schema (provider/schema.json) with the code generators of
// github.com/pulumi/pulumi/pkg/v3 v3.274.1, the ones Pulumi's language
// hosts call from GeneratePackage. It exists because `pulumi package
// gen-sdk` and `package add` hand SDK generation to
// pulumi-language-nodejs or -python, and no registry here serves those
// hosts. The repository's tests generate both SDKs with it, type-check
// examples/typescript against the Node.js one and byte-compile the
// Python one.
//
//	go run ./cmd/sdkgen -schema schema.json -lang nodejs|python -out DIR [-local]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// noLoader: the vpclink schema references no other package.
type noLoader struct{}

var errNo = errors.New("sdkgen: loading other packages is not supported")

func (noLoader) LoadPackage(string, *semver.Version) (*schema.Package, error) { return nil, errNo }
func (noLoader) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNo
}
func (noLoader) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNo
}
func (noLoader) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errNo
}

func main() {
	schemaPath := flag.String("schema", "schema.json", "package schema (JSON)")
	lang := flag.String("lang", "nodejs", "nodejs or python")
	out := flag.String("out", "sdk", "output directory (files go to OUT/LANG)")
	local := flag.Bool("local", false, "generate a local SDK (as `package add` does)")
	flag.Parse()
	if err := run(*schemaPath, *lang, *out, *local); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}

func run(schemaPath, lang, out string, local bool) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	if local {
		pkg.SupportPack = true
	}
	var files map[string][]byte
	switch lang {
	case "nodejs":
		files, err = nodejs.GeneratePackage("pulumi-language-nodejs", pkg, nil, nil, local, noLoader{})
	case "python":
		files, err = python.GeneratePackage("pulumi-language-python", pkg, nil, noLoader{})
	default:
		err = fmt.Errorf("unknown language %q", lang)
	}
	if err != nil {
		return err
	}
	dir := filepath.Join(out, lang)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("sdkgen: %d files in %s\n", len(files), dir)
	return nil
}
