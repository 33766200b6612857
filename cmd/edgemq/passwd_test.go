package main

import (
	"bytes"
	"edgemq/gateway/auth/passwd"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stdinWith returns a file (not a terminal) holding content.
func stdinWith(t *testing.T, content string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestPasswdStdin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	var stderr bytes.Buffer
	if code := runPasswd([]string{path, "alice"}, stdinWith(t, "s3cret\n"), io.Discard, &stderr); code != 0 {
		t.Fatalf("passwd alice: exit %d: %s", code, stderr.String())
	}
	if code := runPasswd([]string{path, "bob"}, stdinWith(t, "hunter2\r\n"), io.Discard, &stderr); code != 0 {
		t.Fatalf("passwd bob: exit %d: %s", code, stderr.String())
	}
	// Update alice: bob's entry is kept, alice has one entry.
	if code := runPasswd([]string{path, "alice"}, stdinWith(t, "n3w"), io.Discard, &stderr); code != 0 {
		t.Fatalf("passwd alice again: exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cret") || strings.Contains(string(data), "hunter2") || strings.Count(string(data), "alice:") != 1 {
		t.Fatalf("password file:\n%s", data)
	}
	if !strings.Contains(string(data), "alice:$argon2id$v=19$m=") {
		t.Errorf("alice is not argon2id:\n%s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	users, err := passwd.ReadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for user, pw := range map[string]string{"alice": "n3w", "bob": "hunter2"} {
		if ok, err := passwd.CheckPassword(users[user], []byte(pw)); !ok || err != nil {
			t.Errorf("%s: password does not match (%v)", user, err)
		}
	}
	if ok, _ := passwd.CheckPassword(users["alice"], []byte("s3cret")); ok {
		t.Error("alice's old password still matches")
	}
}

func TestPasswdErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"usage", []string{path}, "x\n", 2, "Usage: edgemq passwd [-bcrypt] FILE USER"},
		{"empty password", []string{path, "alice"}, "\n", 1, "no password"},
		{"colon in user", []string{path, "a:b"}, "x\n", 1, "user name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := runPasswd(tt.args, stdinWith(t, tt.stdin), io.Discard, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
	// Through run, as the binary dispatches it.
	if code, _, stderr := runMain(t, "passwd"); code != 2 || !strings.Contains(stderr, "Usage: edgemq passwd") {
		t.Errorf("run passwd: exit %d, %q", code, stderr)
	}
}

// TestPasswdLongPasswords: a password on stdin over 4,096 bytes is
// refused, not cut; with -bcrypt one over 72 bytes is refused (bcrypt
// would ignore the rest), and nothing is written.
func TestPasswdLongPasswords(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string // before FILE USER
		password string
		code     int
		want     string // in stderr
		hash     string // the entry's prefix when written
	}{
		{"stdin over 4096 bytes, no line end", nil, strings.Repeat("p", 5000), 1, "longer than 4096 bytes", ""},
		{"stdin 4097 bytes", nil, strings.Repeat("p", 4097) + "\n", 1, "longer than 4096 bytes", ""},
		{"stdin 4096 bytes", nil, strings.Repeat("p", 4096) + "\r\n", 0, "", "$argon2id$"},
		{"bcrypt 73 bytes", []string{"-bcrypt"}, strings.Repeat("b", 73) + "\n", 1, "longer than 72 bytes", ""},
		{"bcrypt 72 bytes", []string{"-bcrypt"}, strings.Repeat("b", 72) + "\n", 0, "", "$2a$10$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "passwd")
			var stderr bytes.Buffer
			code := runPasswd(append(tt.args, path, "alice"), stdinWith(t, tt.password), io.Discard, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
			if tt.code != 0 {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("a refused password wrote the file (%v)", err)
				}
				return
			}
			users, err := passwd.ReadPasswordFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(users["alice"], tt.hash) {
				t.Fatalf("entry %q, want %s...", users["alice"], tt.hash)
			}
			pw := strings.TrimRight(tt.password, "\r\n")
			if ok, err := passwd.CheckPassword(users["alice"], []byte(pw)); !ok || err != nil {
				t.Errorf("the whole password does not match (%v)", err)
			}
			if ok, _ := passwd.CheckPassword(users["alice"], []byte(pw[:len(pw)-1])); ok {
				t.Error("the password without its last byte matches")
			}
			if ok, _ := passwd.CheckPassword(users["alice"], []byte(pw+"x")); ok {
				t.Error("the password with one byte more matches")
			}
		})
	}
}
