package proto

// What the channel tests build their configurations and credentials
// from: the gateway's defaults with one tcp listener, users, a SCRAM
// file, an HS256 JWT key, and the authentication chain a listener's
// configuration names (the root's buildAuthChain, for the backends these
// tests use).

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	authjwt "edgemq/gateway/auth/jwt"
	"edgemq/gateway/auth/passwd"
	authscram "edgemq/gateway/auth/scram"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// testConfig returns the default configuration with one tcp listener,
// no brute-force delay and no connection-rate limits unless a test sets
// them, in memory.
func testConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatalf("loading default config: %v", err)
	}
	cfg.Listeners = []configs.Listener{{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"}}
	cfg.Auth.BruteForce.Enabled = false
	cfg.Limits.Rate = configs.AdmissionRate{}
	cfg.Ops.Address = ""
	return cfg
}

// testChain builds the authentication chain of listener lc of cfg, as
// the server does, for the backends the channel tests use: auth.users
// and jwt.
func testChain(tb testing.TB, cfg *configs.Config, lc configs.Listener, e *Engine) *auth.Chain {
	tb.Helper()
	var backends []auth.Backend
	for _, name := range lc.AuthChain() {
		if name == configs.UsersBackend {
			backends = append(backends, auth.Backend{Authenticator: passwd.NewStaticUsers(cfg.Auth.Users, e.PasswordVerifier()), Kind: auth.KindStatic})
			continue
		}
		bc := cfg.Auth.Backends[name]
		if bc.Type != configs.BackendJWT {
			tb.Fatalf("auth backend %q: type %q is not one the channel tests build", name, bc.Type)
		}
		a, err := authjwt.New(bc.JWT, &http.Client{Timeout: time.Second})
		if err != nil {
			tb.Fatalf("auth backend %q: %v", name, err)
		}
		backends = append(backends, auth.Backend{Authenticator: a, Kind: auth.KindJWT})
	}
	return auth.NewChain(lc.Anonymous(), backends...)
}

// refOf returns a pointer to v, for optional configuration fields.
func refOf[T any](v T) *T { return &v }

// bcryptHash hashes password at the lowest cost, for auth.users.
func bcryptHash(tb testing.TB, password string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatalf("bcrypt: %v", err)
	}
	return string(h)
}

// writeSCRAMFile writes a password file with SCRAM entries of both
// methods for each user, and an unrelated bcrypt line.
func writeSCRAMFile(tb testing.TB, users map[string]string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("# test users\nother:$2a$10$Bda/bkmatfHP2OQaIELnVuc3aYPTQcofV3vNUBvMlUVagSbBFwfke\n")
	for u, pw := range users {
		for _, m := range []string{authscram.MethodSHA256, authscram.MethodSHA512} {
			e, err := authscram.Entry(m, pw, 4096)
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

// testKey is an HS256 signing key made in the test.
type testKey struct{ secret []byte }

// newTestKey returns a new HS256 key (printable: the secret file is read
// with trailing line endings trimmed).
func newTestKey(tb testing.TB) *testKey {
	tb.Helper()
	r := make([]byte, 32)
	rand.Read(r)
	return &testKey{secret: []byte(hex.EncodeToString(r))}
}

// sign makes a token with claims; exp one hour ahead unless set.
func (k *testKey) sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(k.secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// keyFile writes the secret to a file.
func (k *testKey) keyFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "key")
	if err := os.WriteFile(path, append(append([]byte{}, k.secret...), '\n'), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jwtConfig makes jwt, with j, the only authentication of every listener.
func jwtConfig(cfg *configs.Config, j configs.JWTAuth) {
	if j.UsernameClaim == "" {
		j.UsernameClaim = "sub"
	}
	cfg.Auth.Backends = map[string]configs.AuthBackend{"jwt": {Type: "jwt", JWT: j}}
	for i := range cfg.Listeners {
		cfg.Listeners[i].Auth = []string{"jwt"}
		cfg.Listeners[i].AllowAnonymous = refOf(false)
	}
}
