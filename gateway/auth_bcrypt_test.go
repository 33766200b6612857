package gateway

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestBcryptLongPasswordRefused: bcrypt reads 72 bytes of a password, so
// a longer password sharing them would match; the gateway refuses a
// password over 72 bytes against a bcrypt hash (0x86), in auth.users and
// in a password file, and lets the right one in.
func TestBcryptLongPasswordRefused(t *testing.T) {
	pw := strings.Repeat("0123456789abcdef", 4) + "01234567" // 72 bytes
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, cfg *configs.Config, hash string)
	}{
		{"auth.users", func(t *testing.T, cfg *configs.Config, hash string) {
			cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: hash}}
			chainOn(cfg, "users")
		}},
		{"password file", func(t *testing.T, cfg *configs.Config, hash string) {
			path := filepath.Join(t.TempDir(), "passwd")
			writePasswordFile(t, path, "alice:"+hash)
			cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: path}}}
			chainOn(cfg, "file")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.setup(t, cfg, bcryptHash(t, pw))
			ts := startServer(t, cfg)
			connectV5(t, ts, passwordConnect("right", "alice", pw))
			for i, wrong := range []string{pw + "x", pw + "-anything-after-the-72nd-byte", pw[:71]} {
				expectRefused(t, ts, passwordConnect("wrong-"+string(rune('a'+i)), "alice", wrong), mqtt.BadUserNameOrPassword)
			}
		})
	}
}

// TestBcryptEntriesWarnedAtLoad: loading auth.users and a password file
// warns about their bcrypt entries (passwords over 72 bytes are refused),
// naming the source and the users, not the argon2id ones.
func TestBcryptEntriesWarnedAtLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	argon, err := passwd.HashPassword([]byte("argon-pw"))
	if err != nil {
		t.Fatal(err)
	}
	writePasswordFile(t, path, "alice:"+argon, "bob:"+bcryptHash(t, "bob-pw"), "carol:"+bcryptHash(t, "carol-pw"))
	cfg := testConfig(t)
	cfg.Auth.Users = []configs.User{{Username: "static", PasswordHash: bcryptHash(t, "static-pw")}}
	cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: path}}}
	chainOn(cfg, "file", "users")
	core, logs := observer.New(zap.WarnLevel)
	startServerLog(t, cfg, zap.New(core), func(*Server) {})

	want := map[string][]string{"auth.users": {"static"}, path: {"bob", "carol"}}
	got := map[string][]string{}
	for _, e := range logs.FilterMessageSnippet("bcrypt").All() {
		if e.Level != zap.WarnLevel || !strings.Contains(e.Message, "72 bytes") {
			t.Errorf("log %v %q, want a warning about 72 bytes", e.Level, e.Message)
		}
		fields := e.ContextMap()
		src, _ := fields["source"].(string)
		users, _ := fields["usernames"].([]any)
		for _, u := range users {
			got[src] = append(got[src], u.(string))
		}
	}
	for src, users := range want {
		if !slices.Equal(got[src], users) {
			t.Errorf("bcrypt warning of %s names %v, want %v", src, got[src], users)
		}
	}
	if len(got) != len(want) {
		t.Errorf("bcrypt warnings for %v, want %v", got, want)
	}
}
