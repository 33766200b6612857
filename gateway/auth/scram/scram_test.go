package scram

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/mqtt"

	xscram "github.com/xdg-go/scram"
	"go.uber.org/zap/zaptest"
)

// writeFile writes a password file with SCRAM entries of both methods
// for each user, and an unrelated bcrypt line.
func writeFile(tb testing.TB, users map[string]string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("# test users\nother:$2a$10$Bda/bkmatfHP2OQaIELnVuc3aYPTQcofV3vNUBvMlUVagSbBFwfke\n")
	for u, pw := range users {
		for _, m := range []string{MethodSHA256, MethodSHA512} {
			e, err := Entry(m, pw, 4096)
			if err != nil {
				tb.Fatal(err)
			}
			b.WriteString(u + ":" + e + "\n")
		}
	}
	path := filepath.Join(tb.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestParseEntry: entries round-trip; malformed ones are refused.
func TestParseEntry(t *testing.T) {
	e, err := Entry(MethodSHA512, "pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	m, c, err := ParseEntry(e)
	if err != nil || m != MethodSHA512 || c.Iterations != 4096 || len(c.StoredKey) != 64 || len(c.ServerKey) != 64 || len(c.Salt) != 16 {
		t.Fatalf("ParseEntry(%q) = %q, %+v, %v", e, m, c, err)
	}
	for _, bad := range []string{
		"SCRAM-SHA-1$4096:c2FsdA==$a:b",
		"SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
		"SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA", // keys too short
		"SCRAM-SHA-256$4096:c2FsdA==",
		"$argon2id$v=19$m=65536,t=3,p=4$abc$def",
	} {
		if _, _, err := ParseEntry(bad); err == nil {
			t.Errorf("ParseEntry(%q) accepted", bad)
		}
	}
	if _, err := Entry(MethodSHA256, "pw", 1000); err == nil {
		t.Error("SCRAMEntry with 1000 iterations accepted")
	}
}

// TestFileStoreReload: a changed file is picked up.
func TestFileStoreReload(t *testing.T) {
	path := writeFile(t, map[string]string{"alice": "a"})
	s, err := NewFileStore(path, time.Nanosecond, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(MethodSHA256, "alice"); !ok {
		t.Fatal("alice not found")
	}
	e, _ := Entry(MethodSHA256, "c", 4096)
	if err := os.WriteFile(path, []byte("carol:"+e+"\n# a longer file than before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(MethodSHA256, "carol"); !ok {
		t.Fatal("carol not found after reload")
	}
	if _, ok := s.Lookup(MethodSHA256, "alice"); ok {
		t.Fatal("alice still found after reload")
	}
	if _, err := NewFileStore(filepath.Join(t.TempDir(), "missing"), 0, zaptest.NewLogger(t)); err == nil {
		t.Error("missing file accepted")
	}
}

// TestMethodExchange drives the server side of a SCRAM conversation with
// xdg-go/scram's client, without a socket: the right password ends done
// with the server's final message, which the client verifies; a wrong
// password or an unknown user ends with Bad User Name or Password (0x86),
// both only at the end (RFC 5802 section 5.1: the server mocks unknown
// users).
func TestMethodExchange(t *testing.T) {
	path := writeFile(t, map[string]string{"alice": "wonderland"})
	store, err := NewFileStore(path, 0, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, method, user, password string
		want                         mqtt.ReasonCode
	}{
		{"sha256 right", MethodSHA256, "alice", "wonderland", mqtt.Success},
		{"sha512 right", MethodSHA512, "alice", "wonderland", mqtt.Success},
		{"wrong password", MethodSHA256, "alice", "guess", mqtt.BadUserNameOrPassword},
		{"unknown user", MethodSHA512, "mallory", "wonderland", mqtt.BadUserNameOrPassword},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMethod(tt.method, store)
			if err != nil {
				t.Fatal(err)
			}
			h := xscram.SHA256
			if tt.method == MethodSHA512 {
				h = xscram.SHA512
			}
			c, err := h.NewClient(tt.user, tt.password, "")
			if err != nil {
				t.Fatal(err)
			}
			conv := c.NewConversation()
			first, err := conv.Step("")
			if err != nil {
				t.Fatal(err)
			}
			ex := m.Start()
			serverFirst, done, err := ex.Step([]byte(first))
			if done || err != nil {
				t.Fatalf("client-first: done %v, err %v; want the exchange to go on (even for an unknown user)", done, err)
			}
			final, err := conv.Step(string(serverFirst))
			if err != nil {
				t.Fatal(err)
			}
			serverFinal, done, err := ex.Step([]byte(final))
			if !done {
				t.Fatal("client-final: not done")
			}
			if got := mqtt.CodeOf(err); tt.want != mqtt.Success && (err == nil || got != tt.want) {
				t.Fatalf("refusal %v (%v), want %v", got, err, tt.want)
			}
			if tt.want == mqtt.Success {
				if err != nil {
					t.Fatalf("right password refused: %v", err)
				}
				if _, err := conv.Step(string(serverFinal)); err != nil || !conv.Valid() {
					t.Errorf("the client does not verify the server's final message: %v", err)
				}
				if ex.Username() != tt.user {
					t.Errorf("Username() = %q, want %q", ex.Username(), tt.user)
				}
			}
		})
	}
	if _, err := NewMethod("SCRAM-SHA-1", store); err == nil {
		t.Error("NewMethod accepted SCRAM-SHA-1")
	}
}
