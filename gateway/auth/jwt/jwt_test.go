package jwt

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/listeners"
	"edgemq/mqtt"

	gojwt "github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef0123456789abcdef"

func sign(tb testing.TB, key string, claims gojwt.MapClaims) string {
	tb.Helper()
	s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// view is the server's view of a CONNECT whose password is password, on
// a WebSocket listener when header is not nil.
func view(password string, header http.Header) *auth.View {
	c := &mqtt.Connect{Version: mqtt.V5, Username: "ignored", UsernameFlag: true, Password: []byte(password), PasswordFlag: password != ""}
	meta := &listeners.Meta{Listener: "l", Transport: listeners.TCP, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}}
	if header != nil {
		meta.Transport, meta.Request = listeners.WS, listeners.NewUpgradeRequest(header, "")
	}
	return auth.NewView(meta, c, "c", "", false)
}

// TestAuthGrant: a valid token allows the client and hands on its user
// name, expiry (with the leeway), ACL and publish-rate claims; bad tokens
// are refused with the reason code of their fault; a client without a
// token is not the backend's business.
func TestAuthGrant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(configs.JWTAuth{SecretFile: path, UsernameClaim: "sub", ACLClaim: "acl", RateLimitClaim: "rate", Leeway: time.Second,
		Token: configs.JWTTokenSource{Password: true, Header: "Authorization"}}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	good := sign(t, secret, gojwt.MapClaims{"sub": "dev-1", "exp": exp.Unix(),
		"acl": map[string]any{"pub": []string{"dev/1/#"}}, "rate": map[string]any{"messages_per_second": 5.0}})
	v := view(good, nil)
	if err := a.Authenticate(context.Background(), v); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	g := v.Grant()
	if g.Username != "dev-1" || !g.Expires.Equal(exp.Add(time.Second)) || g.ACL == nil || !slices.Equal(g.ACL.Pub, []string{"dev/1/#"}) ||
		g.Rate == nil || g.Rate.MessagesPerSecond == nil || *g.Rate.MessagesPerSecond != 5 {
		t.Errorf("grant %+v, want dev-1, expiry %v, the claims", g, exp.Add(time.Second))
	}
	if err := a.Authenticate(context.Background(), view("", http.Header{"Authorization": {"Bearer " + good}})); err != nil {
		t.Errorf("token in the upgrade request's header refused: %v", err)
	}
	for _, tt := range []struct {
		name, password string
		want           error // ErrNotMine or a reason code's error
		code           mqtt.ReasonCode
	}{
		{"no token", "", auth.ErrNotMine, 0},
		{"password not a token", "hunter2", auth.ErrNotMine, 0},
		{"bad signature", sign(t, "another secret that is long enough!", gojwt.MapClaims{"sub": "x"}), nil, mqtt.BadUserNameOrPassword},
		{"expired", sign(t, secret, gojwt.MapClaims{"sub": "x", "exp": time.Now().Add(-time.Hour).Unix()}), nil, mqtt.NotAuthorized},
		{"no user name claim", sign(t, secret, gojwt.MapClaims{"name": "x"}), nil, mqtt.NotAuthorized},
		{"bad acl claim", sign(t, secret, gojwt.MapClaims{"sub": "x", "acl": "all"}), nil, mqtt.NotAuthorized},
		{"negative rate", sign(t, secret, gojwt.MapClaims{"sub": "x", "rate": map[string]any{"bytes_burst": -1.0}}), nil, mqtt.NotAuthorized},
	} {
		err := a.Authenticate(context.Background(), view(tt.password, nil))
		switch {
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		case tt.want == nil && (err == nil || mqtt.CodeOf(err) != tt.code):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.code)
		}
	}
}
