package configs

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// UsersBackend is the backend name of the static auth.users list.
const UsersBackend = "users"

// Auth backend types.
const (
	BackendPasswordFile = "password_file"
	BackendJWT          = "jwt"
	BackendHTTP         = "http"
	BackendCert         = "cert"
	// BackendPlugin is an Authenticator supplied by the Go program that
	// embeds edgemq (gateway.WithAuthenticator, under the backend's
	// name). It has no settings here; the edgemq binary supplies none,
	// so a listener that names one fails to start.
	BackendPlugin = "plugin"
)

// AuthChain returns the backend names of listener l, in order.
func (l Listener) AuthChain() []string {
	if len(l.Auth) == 0 {
		return []string{UsersBackend}
	}
	return l.Auth
}

// hasBackends reports whether l names a backend other than the users list.
func (c *Config) hasBackends(l Listener) bool {
	for _, n := range l.Auth {
		if n != UsersBackend {
			return true
		}
	}
	return false
}

func (c *Config) validateAuthBackends(ps *problems) {
	for name, b := range c.Auth.Backends {
		path := "auth.backends." + name
		if name == UsersBackend {
			ps.add(path, "%q is reserved for auth.users", name)
		}
		switch b.Type {
		case BackendPasswordFile:
			if b.PasswordFile.Path == "" {
				ps.add(path+".password_file.path", "is required")
			}
			if b.PasswordFile.ReloadInterval < 0 {
				ps.add(path+".password_file.reload_interval", "must not be negative")
			}
		case BackendJWT:
			validateJWT(ps, path+".jwt", b.JWT)
		case BackendHTTP:
			h := b.HTTP
			if u, err := url.Parse(h.URL); h.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				ps.add(path+".http.url", "%q is not an http or https URL", h.URL)
			}
			if h.Timeout < 0 {
				ps.add(path+".http.timeout", "must not be negative (0 means 2s)")
			}
			if h.CacheTTL < 0 {
				ps.add(path+".http.cache_ttl", "must not be negative")
			}
		case BackendCert, BackendPlugin:
		case "":
			ps.add(path+".type", "is required: password_file, jwt, http, cert or plugin")
		default:
			ps.add(path+".type", "%q is not a backend type: want password_file, jwt, http, cert or plugin", b.Type)
		}
	}
	for i, l := range c.Listeners {
		seen := map[string]bool{}
		for j, n := range l.Auth {
			path := fmt.Sprintf("listeners[%d].auth[%d]", i, j)
			if seen[n] {
				ps.add(path, "%q is listed twice", n)
			}
			seen[n] = true
			b, ok := c.Auth.Backends[n]
			if n != UsersBackend && !ok {
				ps.add(path, "%q is not defined under auth.backends (or \"users\" for auth.users)", n)
				continue
			}
			if b.Type == BackendCert {
				if l.Type != "tls" && l.Type != "wss" {
					ps.add(path, "backend %q of type cert needs a tls or wss listener", n)
				} else if src, ok := c.TLS[l.TLS]; ok && src.ClientAuth.Mode != "optional" && src.ClientAuth.Mode != "required" {
					ps.add(path, "backend %q of type cert needs tls.%s.client_auth.mode optional or required", n, l.TLS)
				}
			}
			if b.Type == BackendJWT && (b.JWT.Token.Header != "" || b.JWT.Token.Cookie != "" || b.JWT.Token.Query != "") &&
				!b.JWT.Token.Password && l.Type != "ws" && l.Type != "wss" {
				ps.add(path, "backend %q takes tokens only from the WebSocket request, and listener is %s", n, l.Type)
			}
		}
	}
}

func validateJWT(ps *problems, path string, j JWTAuth) {
	for i, a := range j.Algorithms {
		if !slices.Contains([]string{"HS256", "RS256", "ES256", "EdDSA"}, a) {
			ps.add(fmt.Sprintf("%s.algorithms[%d]", path, i), "%q is not supported: want HS256, RS256, ES256 or EdDSA", a)
		}
	}
	n := 0
	for _, s := range []string{j.SecretFile, j.PublicKeyFile, j.JWKSFile, j.JWKSURL} {
		if s != "" {
			n++
		}
	}
	if n == 0 {
		ps.add(path, "needs a key: secret_file, public_key_file, jwks_file or jwks_url")
	}
	if j.JWKSURL != "" {
		if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(path+".jwks_url", "%q is not an http or https URL", j.JWKSURL)
		}
	}
	if j.JWKSRefresh < 0 {
		ps.add(path+".jwks_refresh", "must not be negative")
	}
	if j.JWKSMinInterval < 0 {
		ps.add(path+".jwks_min_interval", "must not be negative")
	}
	if j.Leeway < 0 || j.Leeway.Minutes() > 5 {
		ps.add(path+".leeway", "%s must be from 0 to 5m", j.Leeway)
	}
	if strings.TrimSpace(j.UsernameClaim) == "" {
		ps.add(path+".username_claim", "is required (e.g. sub)")
	}
	t := j.Token
	if !t.Password && t.Header == "" && t.Cookie == "" && t.Query == "" {
		ps.add(path+".token", "names no source: set password: true, header, cookie or query")
	}
}
