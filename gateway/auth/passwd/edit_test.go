package passwd

import (
	"edgemq/gateway/auth/scram"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPasswordFileListDelete: list shows each user once with the kinds of
// its entries; delete removes every line of one user (SCRAM entries
// included), keeps other lines and the file's mode, and the file still
// loads; deleting a user not there changes nothing.
func TestPasswordFileListDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := SetPassword(path, "alice", []byte("alice-pw")); err != nil {
		t.Fatal(err)
	}
	bc, err := BcryptPassword([]byte("bob-pw"))
	if err != nil {
		t.Fatal(err)
	}
	scramEntry, err := scram.Entry("SCRAM-SHA-256", "alice-pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := ReadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	content := "# users\nalice:" + alice["alice"] + "\nbob:" + bc + "\nalice:" + scramEntry + "\ncarol:plain-text\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}

	users, err := ListPasswordUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []PasswordUser{
		{"alice", []string{"argon2id", "SCRAM-SHA-256"}},
		{"bob", []string{"bcrypt"}},
		{"carol", []string{"invalid"}},
	}
	if !slices.EqualFunc(users, want, func(a, b PasswordUser) bool { return a.Name == b.Name && slices.Equal(a.Kinds, b.Kinds) }) {
		t.Errorf("users %+v, want %+v", users, want)
	}

	for _, tc := range []struct {
		user  string
		found bool
		left  string
	}{
		{"carol", true, "# users\nalice:" + alice["alice"] + "\nbob:" + bc + "\nalice:" + scramEntry + "\n"},
		{"alice", true, "# users\nbob:" + bc + "\n"},
		{"alice", false, "# users\nbob:" + bc + "\n"},
		{"nobody", false, "# users\nbob:" + bc + "\n"},
	} {
		found, err := DeletePasswordUser(path, tc.user)
		if err != nil || found != tc.found {
			t.Fatalf("delete %s: found %v, %v; want found %v", tc.user, found, err, tc.found)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.left {
			t.Errorf("after deleting %s:\n%s\nwant:\n%s", tc.user, got, tc.left)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode after delete: %v, %v; want 0640", st.Mode().Perm(), err)
	}
	left, err := ReadPasswordFile(path)
	if err != nil || len(left) != 1 || left["bob"] != bc {
		t.Errorf("the file loads as %v, %v; want bob alone", left, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if _, err := DeletePasswordUser(path+".missing", "bob"); err == nil {
		t.Error("deleting from a missing file: no error")
	}
}
