package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
)

// passwdCmd runs edgemq passwd with args and stdin content.
func passwdCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runPasswd(args, stdinWith(t, stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestPasswdBatchListDelete: -b sets a password from the command line,
// -l lists users with their kinds (never the hashes), -D deletes a user
// (a missing one fails), and the file still authenticates who is left.
func TestPasswdBatchListDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"batch add", []string{"-b", path, "alice", "alice-pw"}, 0, "", ""},
		{"batch bcrypt", []string{"-b", "-bcrypt", path, "bob", "bob-pw"}, 0, "", ""},
		{"stdin add", []string{path, "carol"}, 0, "", ""},
		{"list", []string{"-l", path}, 0, "alice\targon2id\nbob\tbcrypt\ncarol\targon2id\n", ""},
		{"delete", []string{"-D", path, "bob"}, 0, "deleted bob from " + path + "\n", ""},
		{"delete again", []string{"-D", path, "bob"}, 1, "", `has no user "bob"`},
		{"list after", []string{"-l", path}, 0, "alice\targon2id\ncarol\targon2id\n", ""},
		{"list missing file", []string{"-l", path + ".missing"}, 1, "", "reading password file"},
		{"batch empty", []string{"-b", path, "dave", ""}, 1, "", "empty password"},
		{"batch missing password", []string{"-b", path, "dave"}, 2, "", "want 3 arguments"},
		{"delete with -b", []string{"-D", "-b", path, "alice"}, 2, "", "-b and -bcrypt are for setting"},
		{"two modes", []string{"-D", "-l", path}, 2, "", "go alone"},
	}
	for _, s := range steps {
		code, stdout, stderr := passwdCmd(t, "carol-pw\n", s.args...)
		if code != s.code || stdout != s.stdout || !strings.Contains(stderr, s.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", s.name, code, stdout, stderr, s.code, s.stdout, s.stderr)
		}
	}
	users, err := passwd.ReadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for user, pw := range map[string]string{"alice": "alice-pw", "carol": "carol-pw"} {
		if ok, err := passwd.CheckPassword(users[user], []byte(pw)); !ok || err != nil {
			t.Errorf("%s's password does not check: %v, %v", user, ok, err)
		}
	}
	if _, ok := users["bob"]; ok || len(users) != 2 {
		t.Errorf("users left %v, want alice and carol", users)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "dave") {
		t.Errorf("a refused batch wrote dave:\n%s", data)
	}
}

// TestPasswdHash: --hash prints a bcrypt hash that a configuration's
// auth.users accepts and that checks against the password, from stdin or
// from -b.
func TestPasswdHash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"stdin", "s3cret-pw\n", []string{"--hash"}},
		{"batch", "", []string{"--hash", "-b", "s3cret-pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := passwdCmd(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			hash := strings.TrimSpace(stdout)
			if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(hash, "$2") {
				t.Fatalf("stdout %q, want one bcrypt hash line", stdout)
			}
			if ok, err := passwd.CheckPassword(hash, []byte("s3cret-pw")); !ok || err != nil {
				t.Errorf("the hash does not check: %v, %v", ok, err)
			}
			cfg, err := configs.Parse("users.yaml", []byte("auth:\n  users:\n    - username: alice\n      password_hash: '"+hash+"'\n"))
			if err != nil {
				t.Fatalf("auth.users refuses the hash: %v", err)
			}
			if cfg.Auth.Users[0].PasswordHash != hash {
				t.Errorf("loaded hash %q", cfg.Auth.Users[0].PasswordHash)
			}
		})
	}
	if code, _, stderr := passwdCmd(t, "", "--hash", "extra"); code != 2 || !strings.Contains(stderr, "want 0 arguments") {
		t.Errorf("--hash with an argument: exit %d, %q", code, stderr)
	}
}
