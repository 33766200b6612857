package passwd

import (
	"bufio"
	"bytes"
	"context"
	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/filewatch"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// FileAuth authenticates the users of a password file (a backend of type
// password_file): one
// "user:hash" per line; blank lines and lines starting with # are
// skipped. The file is watched (filewatch.Watcher's contract) at most
// every reload interval, when a client authenticates (no goroutine), and
// reloaded once a change settled; a file that fails to load (missing,
// empty, changing while read, or a bad line) is logged and the previous
// users stay.
type FileAuth struct {
	path   string
	log    *zap.Logger
	watch  *filewatch.Watcher
	verify *Verifier

	users atomic.Pointer[map[string]string]

	mu lockorder.Mutex[passwordFileMu] // serializes reloads, so the last read is the one kept
}

// NewFileAuth loads the password file of cfg; its passwords are checked
// with verify, and log gets its reloads and their failures.
func NewFileAuth(cfg configs.PasswordFileAuth, verify *Verifier, log *zap.Logger) (*FileAuth, error) {
	// The watcher first: a change during the first load is not lost.
	p := &FileAuth{path: cfg.Path, log: log, watch: filewatch.New(cfg.ReloadInterval, cfg.Path), verify: verify}
	if _, err := p.load(); err != nil {
		return nil, err
	}
	return p, nil
}

// load reads the file and installs its users, warning of bcrypt entries;
// it returns the number of users.
func (p *FileAuth) load() (int, error) {
	users, err := ReadPasswordFile(p.path)
	if err != nil {
		return 0, err
	}
	p.users.Store(&users)
	var weak []string
	for user, hash := range users {
		if isBcrypt(hash) {
			weak = append(weak, user)
		}
	}
	slices.Sort(weak)
	p.verify.warnBcrypt(p.path, weak)
	return len(users), nil
}

// maybeReload reloads the file when the watcher reports a change.
func (p *FileAuth) maybeReload() {
	changed, err := p.watch.Poll() // no lock when not due
	if err == nil && !changed {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		var n int
		if n, err = p.load(); err == nil {
			p.log.Info("password file reloaded", zap.String("path", p.path), zap.Int("users", n))
			return
		}
	}
	p.log.Warn("password file not reloaded: keeping the users in force", zap.String("path", p.path), zap.Error(err))
}

// Authenticate checks the password of a user of the file; other clients
// are not its business. The hash waits for the hash pool until ctx ends
// (then 0x89 Server busy).
func (p *FileAuth) Authenticate(ctx context.Context, c auth.ConnInfo) error {
	if !c.HasUsername() {
		return auth.ErrNotMine
	}
	p.maybeReload()
	hash, ok := (*p.users.Load())[c.Username()]
	if !ok {
		return auth.ErrNotMine
	}
	if !c.HasPassword() {
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "no password for user %q", c.Username())
	}
	match, err := p.verify.check(ctx, hash, c.Password())
	if mqtt.CodeOf(err) == mqtt.ServerBusy {
		return err
	}
	if !match {
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "wrong password for user %q", c.Username())
	}
	return nil
}

// ReadPasswordFile reads a password file into user → hash; an empty file,
// or one that changes while it is read, is an error (filewatch.ReadStable:
// a file with no users holds a comment). Entries must
// be argon2id or bcrypt hashes: a line that holds anything else (such as
// a plain password) is an error naming the line, not the value. SCRAM
// entries ("user:SCRAM-SHA-256$...") are skipped: they are for MQTT 5
// enhanced authentication, which reads the same file.
func ReadPasswordFile(path string) (map[string]string, error) {
	data, err := filewatch.ReadStable(path)
	if err != nil {
		return nil, err
	}
	users := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want user:hash", path, n)
		}
		if strings.HasPrefix(hash, "SCRAM-") {
			continue // a SCRAM entry, for enhanced authentication (gateway/auth/scram)
		}
		if !validHash(hash) {
			return nil, fmt.Errorf("%s:%d: the entry of %q is not an argon2id or bcrypt hash", path, n, user)
		}
		users[user] = hash
	}
	return users, sc.Err()
}

// SetPassword adds or replaces user's entry in the password file at path
// with an argon2id hash of password, creating the file (mode 0600) when
// missing. Every other line of user, SCRAM entries included, is removed,
// so that no entry of an old password lingers. The file is replaced
// atomically; other users' lines are kept.
func SetPassword(path, user string, password []byte) error {
	if len(password) == 0 {
		return errors.New("empty password")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return SetPasswordEntries(path, user, hash)
}

// SetPasswordEntries replaces every line of user in the password file at
// path with one "user:entry" line per entry (e.g. an argon2id hash and
// SCRAM entries made from the same password).
func SetPasswordEntries(path, user string, entries ...string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n") || strings.TrimSpace(user) != user || strings.HasPrefix(user, "#") {
		return fmt.Errorf("user name %q: must be non-empty, without ':', line breaks or surrounding spaces, and not start with #", user)
	}
	if len(entries) == 0 {
		return errors.New("no entry")
	}
	var add strings.Builder
	for _, e := range entries {
		if e == "" || strings.ContainsAny(e, "\r\n") {
			return errors.New("malformed entry")
		}
		add.WriteString(user + ":" + e + "\n")
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	var out bytes.Buffer
	replaced := false
	for _, line := range strings.SplitAfter(string(old), "\n") {
		if line == "" {
			continue
		}
		if u, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && u == user {
			if !replaced {
				out.WriteString(add.String())
				replaced = true
			}
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	if !replaced {
		out.WriteString(add.String())
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
