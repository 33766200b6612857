package passwd

// Listing and deleting the users of a password file, for `edgemq passwd
// -l` and `-D` (SetPasswordEntries adds and replaces).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PasswordUser is a user of a password file and the kinds of its
// entries, in file order: "argon2id", "bcrypt", a SCRAM mechanism such
// as "SCRAM-SHA-256", or "invalid" for an entry the gateway refuses.
type PasswordUser struct {
	Name  string
	Kinds []string
}

// ListPasswordUsers returns the users of the password file at path, in
// file order, with the kinds of their entries. Hashes are not returned.
func ListPasswordUsers(path string) ([]PasswordUser, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading password file: %w", err)
	}
	var users []PasswordUser
	index := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, entry, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("reading password file: %s:%d: want user:hash", path, n)
		}
		i, seen := index[user]
		if !seen {
			i = len(users)
			index[user] = i
			users = append(users, PasswordUser{Name: user})
		}
		users[i].Kinds = append(users[i].Kinds, entryKind(entry))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading password file: %w", err)
	}
	return users, nil
}

// entryKind names the kind of a password file entry.
func entryKind(entry string) string {
	switch {
	case strings.HasPrefix(entry, "SCRAM-"):
		mech, _, _ := strings.Cut(entry, "$")
		return mech
	case !validHash(entry):
		return "invalid"
	case strings.HasPrefix(entry, "$argon2id$"):
		return "argon2id"
	default:
		return "bcrypt"
	}
}

// DeletePasswordUser removes every line of user (its hash and SCRAM
// entries) from the password file at path, replacing the file
// atomically with its mode kept; other lines, comments included, stay.
// It reports false, and leaves the file alone, when user has no line.
func DeletePasswordUser(path, user string) (bool, error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading password file: %w", err)
	}
	var out bytes.Buffer
	found := false
	for line := range strings.SplitAfterSeq(string(old), "\n") {
		if u, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && u == user {
			found = true
			continue
		}
		out.WriteString(line)
	}
	if !found {
		return false, nil
	}
	if err := replacePasswordFile(path, out.Bytes()); err != nil {
		return false, fmt.Errorf("writing password file: %w", err)
	}
	return true, nil
}

// replacePasswordFile replaces the file at path with data atomically (a
// temporary file in the same directory, synced, then renamed), keeping
// the file's permissions.
func replacePasswordFile(path string, data []byte) (err error) {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	err = errors.Join(tmp.Chmod(st.Mode().Perm()), writeAll(tmp, data), tmp.Sync())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeAll(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
