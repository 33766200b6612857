package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"
)

// answer is an Authenticator that answers err and counts its calls.
type answer struct {
	err   error
	calls int
}

func (a *answer) Authenticate(context.Context, ConnInfo) error {
	a.calls++
	return a.err
}

// viewOf returns the server's view of a CONNECT from 192.0.2.1.
func viewOf(c *mqtt.Connect) *View {
	meta := &listeners.Meta{Listener: "tcp", Transport: listeners.TCP, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1883}}
	return NewView(meta, c, "client", "", false)
}

// TestChain: the first backend that does not answer ErrNotMine decides,
// with its kind; an error without a reason code refuses as Not
// Authorized; when none decides, clients without credentials follow the
// listener's anonymous rule and the others are an unknown user; an
// Authentication Method never reaches the backends [MQTT-4.12.0-1].
func TestChain(t *testing.T) {
	user := &mqtt.Connect{Version: mqtt.V5, Username: "u", UsernameFlag: true, Password: []byte("p"), PasswordFlag: true}
	anon := &mqtt.Connect{Version: mqtt.V5}
	method := &mqtt.Connect{Version: mqtt.V5}
	method.Properties.AuthenticationMethod = "SCRAM-SHA-256"
	refused := mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "wrong")
	for _, tt := range []struct {
		name      string
		anonymous bool
		answers   []error
		c         *mqtt.Connect
		wantKind  Kind
		wantCode  mqtt.ReasonCode
		wantCalls []int
	}{
		{"first allows", false, []error{nil, refused}, user, KindJWT, mqtt.Success, []int{1, 0}},
		{"not mine, then refused", false, []error{ErrNotMine, refused}, user, KindHTTP, mqtt.BadUserNameOrPassword, []int{1, 1}},
		{"plain error is not authorized", false, []error{errors.New("boom")}, user, KindJWT, mqtt.NotAuthorized, []int{1}},
		{"nobody decides: unknown user", false, []error{ErrNotMine, ErrNotMine}, user, KindNone, mqtt.BadUserNameOrPassword, []int{1, 1}},
		{"anonymous allowed", true, []error{ErrNotMine}, anon, KindAnonymous, mqtt.Success, []int{1}},
		{"anonymous refused", false, nil, anon, KindAnonymous, mqtt.NotAuthorized, nil},
		{"authentication method", true, []error{nil}, method, KindEnhanced, mqtt.BadAuthenticationMethod, []int{0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var backends []Backend
			var as []*answer
			for i, err := range tt.answers {
				a := &answer{err: err}
				as = append(as, a)
				backends = append(backends, Backend{Authenticator: a, Kind: []Kind{KindJWT, KindHTTP}[i]})
			}
			kind, err := NewChain(tt.anonymous, backends...).Authenticate(context.Background(), viewOf(tt.c))
			code := mqtt.Success
			if err != nil {
				code = mqtt.CodeOf(err)
			}
			if kind != tt.wantKind || code != tt.wantCode {
				t.Errorf("Authenticate = %v, %v (%v); want %v, %v", kind, code, err, tt.wantKind, tt.wantCode)
			}
			for i, a := range as {
				if a.calls != tt.wantCalls[i] {
					t.Errorf("backend %d called %d times, want %d", i, a.calls, tt.wantCalls[i])
				}
			}
		})
	}
}

// TestChainHasWork: a client with no credentials on a listener without
// backends costs nothing, so it takes no place under the caps.
func TestChainHasWork(t *testing.T) {
	for _, tt := range []struct {
		name     string
		backends []Backend
		c        *mqtt.Connect
		want     bool
	}{
		{"nothing to run", nil, &mqtt.Connect{}, false},
		{"a user name", nil, &mqtt.Connect{UsernameFlag: true}, true},
		{"a password", nil, &mqtt.Connect{PasswordFlag: true}, true},
		{"a backend", []Backend{{Authenticator: &answer{}, Kind: KindPlugin}}, &mqtt.Connect{}, true},
	} {
		if got := NewChain(true, tt.backends...).HasWork(tt.c); got != tt.want {
			t.Errorf("%s: HasWork = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestView: the view reports the CONNECT and its connection, the upgrade
// request's header, cookie and query on WebSocket and "" otherwise, and
// carries the grant a backend fills; a ConnInfo that is not a View has
// no grant.
func TestView(t *testing.T) {
	c := &mqtt.Connect{Version: mqtt.V311, Username: "dev", UsernameFlag: true, Password: []byte("pw"), PasswordFlag: true}
	req := listeners.NewUpgradeRequest(http.Header{"Authorization": {"Bearer x"}, "Cookie": {"t=abc"}}, "token=q")
	meta := &listeners.Meta{Listener: "ws", Transport: listeners.WS, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}, Request: req}
	v := NewView(meta, c, "cid", "dev", true)
	if v.Listener() != "ws" || v.Transport() != listeners.WS || v.ClientID() != "cid" || v.Username() != "dev" || !v.HasUsername() ||
		string(v.Password()) != "pw" || !v.HasPassword() || v.ProtocolVersion() != mqtt.V311 || v.CertIdentity() != "dev" || v.TLS() != nil {
		t.Errorf("view does not report the CONNECT: %+v", v)
	}
	if v.Header("Authorization") != "Bearer x" || v.Cookie("t") != "abc" || v.Query("token") != "q" {
		t.Errorf("request: header %q cookie %q query %q", v.Header("Authorization"), v.Cookie("t"), v.Query("token"))
	}
	if !CertAsUser(v) {
		t.Error("CertAsUser of a view whose certificate named the user is false")
	}
	plain := viewOf(c)
	if plain.Header("Authorization") != "" || plain.Cookie("t") != "" || plain.Query("token") != "" || CertAsUser(plain) {
		t.Error("a tcp view reports an upgrade request or a certificate user")
	}
	g := GrantOf(v)
	g.Username = "claimed"
	if v.Grant().Username != "claimed" {
		t.Error("the grant filled through GrantOf is not the view's")
	}
	var other ConnInfo = struct{ *View }{v}
	if GrantOf(other) != nil {
		t.Error("a ConnInfo that is not the server's view has a grant")
	}
	if got := RemoteIP(meta.RemoteAddr); got != "192.0.2.7" {
		t.Errorf("RemoteIP = %q, want 192.0.2.7", got)
	}
}

// TestStats: failures are counted by reason and by the kind of backend.
func TestStats(t *testing.T) {
	var s Stats
	s.Fail(KindPasswd, mqtt.BadUserNameOrPassword)
	s.Fail(KindPasswd, mqtt.BadUserNameOrPassword)
	s.Fail(KindJWT, mqtt.NotAuthorized)
	s.Fail(KindEnhanced, mqtt.BadAuthenticationMethod)
	s.Fail(KindHTTP, mqtt.ServerUnavailable)
	s.Delay()
	want := map[string]int64{"bad_credentials": 2, "not_authorized": 1, "bad_method": 1, "other": 1}
	got := s.FailuresByReason()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("failures %s = %d, want %d", k, got[k], n)
		}
	}
	if s.FailuresBy(KindPasswd, FailCredentials) != 2 || s.FailuresBy(KindJWT, FailNotAuthorized) != 1 || s.FailuresBy(KindHTTP, FailOther) != 1 || s.FailuresBy(KindJWT, FailCredentials) != 0 {
		t.Error("failures by backend miscounted")
	}
	if s.Delayed() != 1 {
		t.Errorf("delayed = %d, want 1", s.Delayed())
	}
}

// TestSetCertIdentityOf: identity_as username or client_id maps the
// certificate's identity field; none or unset maps nothing, and the field
// is kept for ACL rules' cert_identity.
func TestSetCertIdentityOf(t *testing.T) {
	tests := []struct {
		ca        configs.ClientAuth
		wantAs    string
		wantField string
	}{
		{configs.ClientAuth{IdentityAs: "username", Identity: "cn"}, IdentityAsUsername, "cn"},
		{configs.ClientAuth{IdentityAs: "client_id", Identity: "san_dns"}, IdentityAsClientID, "san_dns"},
		{configs.ClientAuth{IdentityAs: "none", Identity: "san_uri"}, "", "san_uri"},
		{configs.ClientAuth{Identity: "cn"}, "", "cn"},
	}
	for _, tt := range tests {
		c := NewChain(false)
		c.SetCertIdentityOf(tt.ca)
		if c.IdentityAs() != tt.wantAs || c.IdentityField() != tt.wantField {
			t.Errorf("%+v: identity as %q field %q, want %q %q", tt.ca, c.IdentityAs(), c.IdentityField(), tt.wantAs, tt.wantField)
		}
	}
}
