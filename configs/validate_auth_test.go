package configs

import (
	"strings"
	"testing"
)

func TestAuthBackendsValid(t *testing.T) {
	cfg := parse(t, `
auth:
  backends:
    file:
      type: password_file
      password_file: {path: /etc/edgemq/passwd, reload_interval: 5s}
    browser:
      type: jwt
      jwt:
        algorithms: [ES256, EdDSA]
        jwks_url: https://auth.example.com/jwks.json
        issuer: https://auth.example.com/
        audience: edgemq
        leeway: 30s
        username_claim: sub
        acl_claim: mqtt_acl
        token: {header: Authorization, cookie: t, query: token, password: true}
    hook:
      type: http
      http: {url: "http://127.0.0.1:9000/auth", timeout: 1s, cache_ttl: 10s, fail_open: true}
    sso:
      type: plugin
listeners:
  - name: public
    type: ws
    address: 0.0.0.0:8080
    auth: [browser, hook, file, sso, users]
`)
	l := cfg.Listeners[0]
	if got := strings.Join(l.AuthChain(), ","); got != "browser,hook,file,sso,users" {
		t.Errorf("chain %s", got)
	}
	if l.Anonymous() {
		t.Error("public listener allows anonymous clients")
	}
	if got := cfg.Auth.Backends["browser"].JWT.Token.Header; got != "Authorization" {
		t.Errorf("token header %q", got)
	}
	if got := (Listener{}).AuthChain(); len(got) != 1 || got[0] != UsersBackend {
		t.Errorf("default chain %v", got)
	}
}

func TestAuthBackendsInvalid(t *testing.T) {
	tests := []struct {
		yaml string
		want string
	}{
		{"auth:\n  backends:\n    x: {type: ldap}\n", `auth.backends.x.type: "ldap" is not a backend type`},
		{"auth:\n  backends:\n    x: {}\n", "auth.backends.x.type: is required"},
		{"auth:\n  backends:\n    users: {type: cert}\n", `auth.backends.users: "users" is reserved`},
		{"auth:\n  backends:\n    x: {type: password_file}\n", "auth.backends.x.password_file.path: is required"},
		{"auth:\n  backends:\n    x: {type: http, http: {url: 'ftp://x'}}\n", `auth.backends.x.http.url: "ftp://x" is not an http or https URL`},
		{"auth:\n  backends:\n    x: {type: jwt, jwt: {username_claim: sub, token: {password: true}}}\n", "auth.backends.x.jwt: needs a key"},
		{"auth:\n  backends:\n    x: {type: jwt, jwt: {secret_file: s, token: {password: true}}}\n", "auth.backends.x.jwt.username_claim: is required"},
		{"auth:\n  backends:\n    x: {type: jwt, jwt: {secret_file: s, username_claim: sub}}\n", "auth.backends.x.jwt.token: names no source"},
		{"auth:\n  backends:\n    x: {type: jwt, jwt: {secret_file: s, username_claim: sub, algorithms: [HS512], token: {password: true}}}\n",
			`auth.backends.x.jwt.algorithms[0]: "HS512" is not supported`},
		{"auth:\n  backends:\n    x: {type: jwt, jwt: {secret_file: s, username_claim: sub, leeway: 1h, token: {password: true}}}\n",
			"auth.backends.x.jwt.leeway: 1h0m0s must be from 0 to 5m"},
		{"listeners:\n  - {name: a, type: tcp, address: '127.0.0.1:1883', auth: [nope]}\n",
			`listeners[0].auth[0]: "nope" is not defined under auth.backends`},
		{"listeners:\n  - {name: a, type: tcp, address: '127.0.0.1:1883', auth: [users, users]}\n",
			`listeners[0].auth[1]: "users" is listed twice`},
		{"auth:\n  backends:\n    d: {type: cert}\nlisteners:\n  - {name: a, type: tcp, address: '127.0.0.1:1883', auth: [d]}\n",
			`listeners[0].auth[0]: backend "d" of type cert needs a tls or wss listener`},
		{"tls:\n  dev: {source: self_signed}\nauth:\n  backends:\n    d: {type: cert}\nlisteners:\n  - {name: a, type: tls, address: '127.0.0.1:8883', tls: dev, auth: [d]}\n",
			`listeners[0].auth[0]: backend "d" of type cert needs tls.dev.client_auth.mode optional or required`},
		{"auth:\n  backends:\n    j: {type: jwt, jwt: {secret_file: s, username_claim: sub, token: {header: Authorization}}}\nlisteners:\n  - {name: a, type: tcp, address: '127.0.0.1:1883', auth: [j]}\n",
			`listeners[0].auth[0]: backend "j" takes tokens only from the WebSocket request`},
	}
	for _, tt := range tests {
		wantContains(t, parseErr(t, tt.yaml), tt.want)
	}
}

// A non-loopback listener with a backend other than users needs no
// explicit allow_anonymous.
func TestAuthBackendsCountAsAuthentication(t *testing.T) {
	parse(t, "auth:\n  backends:\n    h: {type: http, http: {url: 'http://127.0.0.1:1/'}}\nlisteners:\n  - {name: a, type: tcp, address: '0.0.0.0:1883', auth: [h]}\n")
}
