package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/golang-jwt/jwt/v5"
)

var jwtAlgorithms = []string{"HS256", "RS256", "ES256", "EdDSA"}

// jwtAuth verifies JSON Web Tokens (golang-jwt/jwt/v5 checks the
// signature, exp, nbf, iss and aud).
//
// Not mine: a client that carries no token in the configured places, or
// whose password (when the password is a source) is not shaped like a JWT.
// A token that fails refuses the client: a bad signature, unknown key or
// malformed token with Bad User Name or Password (0x86; 3.x: 4), a token
// that expired, is not valid yet, or is for another issuer or audience
// with Not Authorized (0x87; 3.x: 5).
type jwtAuth struct {
	cfg    configs.JWTAuth
	parser *jwt.Parser
	secret []byte
	pub    any // from public_key_file
	jwks   *jwksCache
}

func newJWTAuth(cfg configs.JWTAuth, client *http.Client) (*jwtAuth, error) {
	j := &jwtAuth{cfg: cfg}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = jwtAlgorithms
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuedAt()}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	if cfg.SecretFile != "" {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, err
		}
		j.secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(j.secret) < 32 {
			return nil, fmt.Errorf("secret_file %s: an HS256 secret needs at least 32 bytes", cfg.SecretFile)
		}
	}
	if cfg.PublicKeyFile != "" {
		k, err := readPublicKey(cfg.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		j.pub = k
	}
	if cfg.JWKSFile != "" || cfg.JWKSURL != "" {
		j.jwks = newJWKSCache(cfg.JWKSFile, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSMinInterval, client)
		if err := j.jwks.load(context.Background()); err != nil && cfg.JWKSURL == "" {
			// A file must load; a URL may be down at start-up and is
			// fetched again on first use.
			return nil, err
		}
	}
	return j, nil
}

// readPublicKey reads a PEM public key or certificate.
func readPublicKey(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no PEM public key or certificate", path)
		}
		switch b.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			return c.PublicKey, nil
		}
	}
}

// keyFits reports whether key verifies tokens signed with alg.
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return alg == "HS256"
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// token finds the client's token: the upgrade request's header, cookie
// or query parameter, then the CONNECT password.
func (j *jwtAuth) token(c ConnInfo) string {
	t := j.cfg.Token
	if r, ok := c.(RequestInfo); ok {
		if t.Header != "" {
			if v := r.Header(t.Header); v != "" {
				if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
					v = strings.TrimSpace(v[7:])
				}
				return v
			}
		}
		if t.Cookie != "" {
			if v := r.Cookie(t.Cookie); v != "" {
				return v
			}
		}
		if t.Query != "" {
			if v := r.Query(t.Query); v != "" {
				return v
			}
		}
	}
	if t.Password && c.HasPassword() {
		if p := string(c.Password()); strings.Count(p, ".") == 2 && strings.HasPrefix(p, "eyJ") {
			return p
		}
	}
	return ""
}

// Authenticate verifies the client's token.
func (j *jwtAuth) Authenticate(ctx context.Context, c ConnInfo) error {
	raw := j.token(c)
	if raw == "" {
		return ErrNotMine
	}
	claims := jwt.MapClaims{}
	_, err := j.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return j.key(ctx, t) })
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet),
			errors.Is(err, jwt.ErrTokenUsedBeforeIssued),
			errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
			return mqtt.Errorf(mqtt.NotAuthorized, "", "token refused: %v", err)
		}
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "token invalid: %v", err)
	}
	user, _ := claims[j.cfg.UsernameClaim].(string)
	if user == "" {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "token has no %q claim", j.cfg.UsernameClaim)
	}
	var acl *ACLClaims
	if j.cfg.ACLClaim != "" {
		if v, ok := claims[j.cfg.ACLClaim]; ok {
			if acl, err = parseACLClaim(v); err != nil {
				return mqtt.Errorf(mqtt.NotAuthorized, "", "token claim %q: %v", j.cfg.ACLClaim, err)
			}
		}
	}
	var rate *RateLimitClaims
	if j.cfg.RateLimitClaim != "" {
		if v, ok := claims[j.cfg.RateLimitClaim]; ok {
			if rate, err = parseRateLimitClaim(v); err != nil { // ratelimit.go
				return mqtt.Errorf(mqtt.NotAuthorized, "", "token claim %q: %v", j.cfg.RateLimitClaim, err)
			}
		}
	}
	if g := grantOf(c); g != nil {
		g.username, g.acl, g.rate = user, acl, rate
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			g.expires = exp.Add(j.cfg.Leeway)
		}
	}
	return nil
}

// key returns the verification key(s) of token t.
func (j *jwtAuth) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == "HS256" && j.secret != nil {
		return j.secret, nil
	}
	if j.jwks != nil {
		kid, _ := t.Header["kid"].(string)
		keys, err := j.jwks.lookup(ctx, kid, alg)
		if err != nil {
			return nil, err
		}
		if len(keys) == 1 {
			return keys[0], nil
		}
		set := jwt.VerificationKeySet{}
		for _, k := range keys {
			set.Keys = append(set.Keys, k)
		}
		return set, nil
	}
	if j.pub != nil && keyFits(alg, j.pub) {
		return j.pub, nil
	}
	return nil, fmt.Errorf("no key for algorithm %s", alg)
}

// parseACLClaim reads {"pub": [...], "sub": [...]}.
func parseACLClaim(v any) (*ACLClaims, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want an object {pub: [...], sub: [...]}")
	}
	list := func(k string) ([]string, error) {
		raw, ok := m[k]
		if !ok {
			return nil, nil
		}
		arr, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a list of topic filters", k)
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s: want non-empty strings", k)
			}
			out = append(out, s)
		}
		return out, nil
	}
	var a ACLClaims
	var err error
	if a.Pub, err = list("pub"); err != nil {
		return nil, err
	}
	if a.Sub, err = list("sub"); err != nil {
		return nil, err
	}
	return &a, nil
}
