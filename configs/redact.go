package configs

import (
	"bytes"
	"fmt"
	"net/url"

	"gopkg.in/yaml.v3"
)

// Redacted stands for a secret in Config.RedactedYAML.
const Redacted = "<redacted>"

// secretKeys are the keys whose non-empty scalar values are secrets:
// admin.token and auth.users[].password_hash (a hash still lets an
// attacker guess passwords offline).
var secretKeys = map[string]bool{"token": true, "password_hash": true}

// RedactedYAML returns the configuration as YAML, every key with its
// effective value (defaults included), with secrets replaced by
// Redacted: the values of secretKeys and the password of a URL
// (https://user:pass@host). Files named by *_file keys are not read.
// With no secret in it, the output parses back to an equal Config.
func (c *Config) RedactedYAML() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	redact(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	return buf.Bytes(), nil
}

// redact replaces the secrets under n in place.
func redact(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if secretKeys[k.Value] && v.Kind == yaml.ScalarNode && v.Value != "" {
				v.Value, v.Tag, v.Style = Redacted, "!!str", 0
				continue
			}
			redact(v)
		}
		return
	}
	if n.Kind == yaml.ScalarNode {
		if u, err := url.Parse(n.Value); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "REDACTED")
				n.Value = u.String()
			}
		}
		return
	}
	for _, c := range n.Content {
		redact(c)
	}
}
