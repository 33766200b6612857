package configs

import (
	"slices"
	"testing"
)

// TestDiff checks the key paths a reload reports: paths only, never
// values; named list entries by name, in any order.
func TestDiff(t *testing.T) {
	rows := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"nothing", func(*Config) {}, nil},
		{"profile", func(c *Config) { c.Listeners[0].Profile = "small" }, []string{"listeners[tcp].profile"}},
		{"password is a path only", func(c *Config) { c.Auth.Users[0].PasswordHash = "$2a$other" }, []string{"auth.users[alice].password_hash"}},
		{"user added", func(c *Config) {
			c.Auth.Users = append(c.Auth.Users, User{Username: "bob", PasswordHash: "$2a$x"})
		}, []string{"auth.users[bob]"}},
		{"tls entry", func(c *Config) { c.TLS["main"] = TLSSource{Source: "files", MinVersion: "1.3"} }, []string{"tls.main.min_version"}},
		{"tls entry added", func(c *Config) { c.TLS["other"] = TLSSource{} }, []string{"tls.other"}},
		{"profile field", func(c *Config) { c.Profiles["small"] = Profile{ReceiveMaximum: ptr[uint16](2)} }, []string{"profiles.small.receive_maximum"}},
		{"rules", func(c *Config) { c.ACL.Rules = nil }, []string{"acl.rules"}},
		{"listener order", func(c *Config) { slices.Reverse(c.Listeners) }, nil},
	}
	base := func() *Config {
		c, err := Default()
		if err != nil {
			t.Fatalf("loading default config: %v", err)
		}
		c.Listeners = []Listener{{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"}}
		c.DataDir = "/data"
		c.Auth.Users = []User{{Username: "alice", PasswordHash: "$2a$one"}}
		c.TLS = map[string]TLSSource{"main": {Source: "files"}}
		c.Profiles = map[string]Profile{"small": {}}
		c.Listeners = append(c.Listeners, Listener{Name: "tls", Type: "tls", TLS: "main"})
		c.ACL.Rules = []ACLRule{{Permission: "allow", Action: "all", Topic: "#"}}
		return c
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			cfg := base()
			row.change(cfg)
			if got := Diff(base(), cfg); !slices.Equal(got, row.want) {
				t.Fatalf("diff %q, want %q", got, row.want)
			}
		})
	}
}

// TestKeyPaths checks how the reload reads the paths of Diff.
func TestKeyPaths(t *testing.T) {
	under := []struct {
		k, prefix string
		want      bool
	}{
		{"acl", "acl", true},
		{"acl.rules", "acl", true},
		{"acl_x", "acl", false},
		{"tls.main.files", "tls.main", true},
		{"tls.mainx", "tls.main", false},
		{"listeners[ws].profile", "listeners[", true},
		{"listeners[ws].profile", "listeners[ws]", true},
		{"listeners[wss].profile", "listeners[ws]", false},
		{"profiles.small", "profiles.", true},
		{"mqtt", "mqtt.keep_alive", false},
	}
	for _, tt := range under {
		if got := UnderKey(tt.k, tt.prefix); got != tt.want {
			t.Errorf("UnderKey(%q, %q) = %v, want %v", tt.k, tt.prefix, got, tt.want)
		}
	}
	if !HasKey([]string{"acl.rules", "tls.main.files"}, "tls") || HasKey([]string{"acl.rules"}, "tls") {
		t.Error("HasKey does not find what UnderKey covers")
	}
	lk := []struct {
		k          string
		name, rest string
		ok         bool
	}{
		{"listeners[ws].profile", "ws", "profile", true},
		{"listeners[ws]", "ws", "", true},
		{"listeners[ws].websocket.path", "ws", "websocket.path", true},
		{"listeners[ws", "", "", false},
		{"acl.rules", "", "", false},
	}
	for _, tt := range lk {
		name, rest, ok := ListenerKey(tt.k)
		if name != tt.name || rest != tt.rest || ok != tt.ok {
			t.Errorf("ListenerKey(%q) = %q, %q, %v; want %q, %q, %v", tt.k, name, rest, ok, tt.name, tt.rest, tt.ok)
		}
	}
}
