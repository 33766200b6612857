package passwd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"
)

// login returns the server's view of a CONNECT with user and password
// (nil: no password); certAsUser says a certificate named the user.
func login(user string, password []byte, certAsUser bool) *auth.View {
	c := &mqtt.Connect{Version: mqtt.V5, Username: user, UsernameFlag: user != "", Password: password, PasswordFlag: password != nil}
	meta := &listeners.Meta{Listener: "tcp", Transport: listeners.TCP, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}}
	certID := ""
	if certAsUser {
		certID = user
	}
	return auth.NewView(meta, c, "c", certID, certAsUser)
}

// code is the outcome of an Authenticate: success, not mine, or the
// refusal's reason code.
func code(err error) string {
	switch {
	case err == nil:
		return "allow"
	case errors.Is(err, auth.ErrNotMine):
		return "not mine"
	}
	return mqtt.CodeOf(err).String()
}

// TestStaticUsers: listed users are checked, others are not its
// business; a user named by its certificate needs no password; a hash
// that waits for the pool past its context is 0x89 Server busy.
func TestStaticUsers(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pool := auth.NewHashPool(configs.Auth{HashWorkers: 1})
	s := NewStaticUsers([]configs.User{{Username: "alice", PasswordHash: string(hash)}}, NewVerifier(pool, zaptest.NewLogger(t)))
	for _, tt := range []struct {
		name string
		c    *auth.View
		want string
	}{
		{"right password", login("alice", []byte("pw"), false), "allow"},
		{"wrong password", login("alice", []byte("no"), false), mqtt.BadUserNameOrPassword.String()},
		{"unknown user", login("bob", []byte("pw"), false), "not mine"},
		{"no user name", login("", []byte("pw"), false), "not mine"},
		{"certificate stands for the password", login("alice", nil, true), "allow"},
		{"no password without a certificate", login("alice", nil, false), mqtt.BadUserNameOrPassword.String()},
	} {
		if got := code(s.Authenticate(context.Background(), tt.c)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	busy, free := make(chan struct{}), make(chan struct{})
	go pool.Run(context.Background(), 1, func() { close(busy); <-free })
	<-busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err = s.Authenticate(ctx, login("alice", []byte("pw"), false))
	cancel()
	close(free)
	if mqtt.CodeOf(err) != mqtt.ServerBusy {
		t.Errorf("hash waiting past its context: %v, want 0x89", err)
	}
}

// TestFileAuthReload: the users of a password file are checked, and a
// changed file is picked up once the change settled; a file that fails
// to load keeps the users in force.
func TestFileAuthReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	h, err := HashPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "alice:"+h)
	f, err := NewFileAuth(configs.PasswordFileAuth{Path: path, ReloadInterval: time.Millisecond}, NewVerifier(nil, zaptest.NewLogger(t)), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := code(f.Authenticate(context.Background(), login("alice", []byte("pw"), false))); got != "allow" {
		t.Fatalf("alice: %s, want allow", got)
	}
	writeFile(t, path, "carol:"+h)
	deadline := time.Now().Add(10 * time.Second)
	for code(f.Authenticate(context.Background(), login("carol", []byte("pw"), false))) != "allow" {
		if time.Now().After(deadline) {
			t.Fatal("carol not let in after the file changed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := code(f.Authenticate(context.Background(), login("alice", []byte("pw"), false))); got != "not mine" {
		t.Errorf("alice after she was removed: %s, want not mine", got)
	}
	writeFile(t, path, "carol:plain")
	for range 5 {
		if got := code(f.Authenticate(context.Background(), login("carol", []byte("pw"), false))); got != "allow" {
			t.Fatalf("carol after a bad reload: %s, want allow (the users in force stay)", got)
		}
	}
	if _, err := NewFileAuth(configs.PasswordFileAuth{Path: filepath.Join(t.TempDir(), "missing")}, NewVerifier(nil, zaptest.NewLogger(t)), zaptest.NewLogger(t)); err == nil {
		t.Error("a missing password file was accepted")
	}
}
