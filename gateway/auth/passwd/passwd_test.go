package passwd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes lines to path.
func writeFile(tb testing.TB, path string, lines ...string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestPasswordFileRejectsPlain: a plain password in a password file is
// refused without echoing it; SCRAM entries are skipped when reading and
// replaced by SetPassword; malformed argon2id hashes never match.
func TestPasswordFileRejectsPlain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, path, "alice:secret")
	_, err := ReadPasswordFile(path)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("plain password: %v; want an error that does not echo it", err)
	}
	// SCRAM entries are skipped here, and replaced by SetPassword.
	argon, _ := HashPassword([]byte("pw"))
	writeFile(t, path, "alice:SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA", "alice:"+argon, "bob:SCRAM-SHA-512$4096:c2FsdA==$AAAA:AAAA")
	users, err := ReadPasswordFile(path)
	if err != nil || len(users) != 1 || users["alice"] != argon {
		t.Errorf("with SCRAM lines: %v, %v", users, err)
	}
	if err := SetPassword(path, "alice", []byte("new")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "alice:") != 1 || strings.Contains(string(data), "alice:SCRAM") || !strings.Contains(string(data), "bob:SCRAM-SHA-512") {
		t.Errorf("after SetPassword:\n%s", data)
	}
	for _, h := range []string{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$", "$argon2id$v=18$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if ok, err := CheckPassword(h, []byte("x")); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v", h, ok, err)
		}
	}
}
