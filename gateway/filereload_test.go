package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
	"edgemq/gateway/auth/scram"
	"edgemq/gateway/filewatch"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// replaceFile writes data to path as an operator should: a temporary
// file in the same directory renamed over it, so that the path always
// names a whole file.
func replaceFile(tb testing.TB, path, data string) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// badFiles are the ways a reloaded file fails: a broken entry, a file
// caught empty (a rewrite in place between truncation and write) and a
// file gone. wantErr is what the logged error wraps (nil: a parse error,
// checked by its text).
var badFiles = []struct {
	name    string
	write   func(tb testing.TB, path string)
	wantErr error
	errText string
}{
	{"broken entry", func(tb testing.TB, p string) { replaceFile(tb, p, "alice:plaintext\n") }, nil, "alice"},
	{"empty", func(tb testing.TB, p string) {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			tb.Fatal(err)
		}
	}, filewatch.ErrEmpty, ""},
	{"missing", func(tb testing.TB, p string) {
		if err := os.Remove(p); err != nil {
			tb.Fatal(err)
		}
	}, os.ErrNotExist, ""},
}

// checkReloadFailure checks a failed reload's log entry: at warn or
// above, naming the path, with the error.
func checkReloadFailure(tb testing.TB, e observer.LoggedEntry, path string, wantErr error, errText string) {
	tb.Helper()
	if e.Level < zapcore.WarnLevel {
		tb.Errorf("%q logged at %s, want warn or above", e.Message, e.Level)
	}
	m := e.ContextMap()
	if m["path"] != path && m["file"] != path {
		tb.Errorf("%q does not name the file %s: %v", e.Message, path, m)
	}
	var err error
	for _, f := range e.Context {
		if f.Key == "error" {
			err, _ = f.Interface.(error)
		}
	}
	switch {
	case err == nil:
		tb.Errorf("%q carries no error: %v", e.Message, m)
	case wantErr != nil && !errors.Is(err, wantErr):
		tb.Errorf("%q: error %v, want %v", e.Message, err, wantErr)
	case !strings.Contains(err.Error(), errText):
		tb.Errorf("%q: error %q does not contain %q", e.Message, err, errText)
	}
}

// TestPasswordFileReloadFailureLogged: a password file reload that fails
// is logged with the path and the error, and the users loaded before stay
// (a client authenticating is what makes the backend look at the file).
func TestPasswordFileReloadFailureLogged(t *testing.T) {
	for _, bad := range badFiles {
		t.Run(bad.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "passwd")
			hash, err := passwd.HashPassword([]byte("argon-pw"))
			if err != nil {
				t.Fatal(err)
			}
			replaceFile(t, path, "alice:"+hash+"\n")
			cfg := testConfig(t)
			cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file",
				PasswordFile: configs.PasswordFileAuth{Path: path, ReloadInterval: 10 * time.Millisecond}}}
			chainOn(cfg, "file")
			ts, logs := startObserved(t, cfg, func(*Server) {})
			connectV5(t, ts, passwordConnect("a1", "alice", "argon-pw"))

			bad.write(t, path)
			const msg = "password file not reloaded: keeping the users in force"
			eventually(t, "the failed reload's log entry", func() bool {
				// alice still gets in while the file is bad.
				connectV5(t, ts, passwordConnect("a2", "alice", "argon-pw")).Disconnect(&paho.Disconnect{})
				return logs.FilterMessage(msg).Len() > 0
			})
			checkReloadFailure(t, logs.FilterMessage(msg).All()[0], path, bad.wantErr, bad.errText)
			connectV5(t, ts, passwordConnect("a3", "alice", "argon-pw"))
		})
	}
}

// TestSCRAMFileReloadFailureLogged: a SCRAM file reload that fails is
// logged with the path and the error, and the entries loaded before stay.
func TestSCRAMFileReloadFailureLogged(t *testing.T) {
	for _, bad := range badFiles {
		t.Run(bad.name, func(t *testing.T) {
			path := writeSCRAMFile(t, map[string]string{"alice": "a"})
			core, logs := observer.New(zapcore.DebugLevel)
			s, err := scram.NewFileStore(path, time.Millisecond, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.Lookup(scram.MethodSHA256, "alice"); !ok {
				t.Fatal("alice not found")
			}
			wantErr, errText := bad.wantErr, bad.errText
			if bad.name == "broken entry" {
				// A plain password is another backend's entry to SCRAM:
				// its broken entry is a bad SCRAM one.
				replaceFile(t, path, "alice:SCRAM-SHA-256$4096:c2FsdA==\n")
				errText = "alice"
			} else {
				bad.write(t, path)
			}
			const msg = "scram file not reloaded: keeping the entries in force"
			eventually(t, "the failed reload's log entry", func() bool {
				if _, ok := s.Lookup(scram.MethodSHA256, "alice"); !ok {
					t.Fatal("alice lost to a failed reload")
				}
				return logs.FilterMessage(msg).Len() > 0
			})
			checkReloadFailure(t, logs.FilterMessage(msg).All()[0], path, wantErr, errText)
			if n := logs.FilterMessage(msg).Len(); n != 1 {
				t.Errorf("the failure was logged %d times, want once", n)
			}
		})
	}
}
