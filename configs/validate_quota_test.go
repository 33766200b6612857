package configs

import (
	"errors"
	"testing"
)

// TestValidateQuotas checks the quota keys of issue 18: negative values,
// and client ids longer than the store holds when something is stored.
func TestValidateQuotas(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		path string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"max_subscriptions negative", func(c *Config) { c.Session.MaxSubscriptions = -1 }, "session.max_subscriptions"},
		{"max_subscription_bytes negative", func(c *Config) { c.Session.MaxSubscriptionBytes = -1 }, "session.max_subscription_bytes"},
		{"per ip negative", func(c *Config) { c.Session.MaxSessionsPerIP = -1 }, "session.max_sessions_per_ip"},
		{"per user negative", func(c *Config) { c.Session.MaxSessionsPerUser = -2 }, "session.max_sessions_per_user"},
		{"retained per client negative", func(c *Config) { c.Retained.MaxPerClient = -1 }, "retained.max_per_client"},
		{"long client id in memory", func(c *Config) { c.Store.Durability = "memory"; c.MQTT.ClientID.MaxLength = 65535 }, ""},
		{"long client id stored", func(c *Config) { c.Store.Durability = "sync"; c.MQTT.ClientID.MaxLength = 65535 }, "mqtt.client_id.max_length"},
		{"long profile client id stored", func(c *Config) {
			c.Store.Durability = "async"
			n := 40000
			c.Profiles = map[string]Profile{"big": {ClientIDMaxLength: &n}}
		}, "profiles.big.client_id_max_length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(c)
			err = c.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v, want *Error", err)
			}
			found := false
			for _, p := range e.Problems {
				found = found || p.Path == tc.path
			}
			if !found {
				t.Errorf("problems %v do not name %s", e.Problems, tc.path)
			}
		})
	}
}
