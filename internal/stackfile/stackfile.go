// Package stackfile reads a Pulumi stack file (Pulumi.<stack>.yaml) into the
// flat key -> value map the Pulumi engine hands a program, so tests and the
// local lab run the program on exactly the configuration a user would.
package stackfile

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Load reads the config section of a stack file. Structured values become
// JSON, as the Pulumi CLI passes them. Encrypted (secure) values cannot be
// decrypted without the CLI and are refused.
func Load(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// Parse is Load on the file's contents.
func Parse(raw []byte) (map[string]string, error) {
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("stack file: %w", err)
	}
	out := map[string]string{}
	for k, v := range file.Config {
		switch v := v.(type) {
		case string:
			out[k] = v
		case map[string]any:
			if _, secure := v["secure"]; secure && len(v) == 1 {
				return nil, fmt.Errorf("stack file: %s is encrypted; only the Pulumi CLI can decrypt it", k)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("stack file: %s: %w", k, err)
			}
			out[k] = string(b)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("stack file: %s: %w", k, err)
			}
			out[k] = string(b)
		}
	}
	return out, nil
}
