package jwt

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
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/mqtt"

	gojwt "github.com/golang-jwt/jwt/v5"
)

var jwtAlgorithms = []string{"HS256", "RS256", "ES256", "EdDSA"}

// Auth verifies JSON Web Tokens (golang-jwt/jwt/v5 checks the
// signature, exp, nbf, iss and aud): a backend of type jwt. It is safe
// for concurrent use.
//
// Not mine: a client that carries no token in the configured places, or
// whose password (when the password is a source) is not shaped like a JWT.
// A token that fails refuses the client: a bad signature, unknown key or
// malformed token with Bad User Name or Password (0x86; 3.x: 4), a token
// that expired, is not valid yet, or is for another issuer or audience
// with Not Authorized (0x87; 3.x: 5).
type Auth struct {
	cfg    configs.JWTAuth
	parser *gojwt.Parser
	secret []byte
	pub    any // from public_key_file
	jwks   *jwksCache
}

// Option adjusts an Auth being built (New).
type Option func(*options)

type options struct {
	clock Clock // nil: the wall clock
}

// Clock is where the JWKS cache reads the time when it decides whether
// its key set is stale (jwks_refresh) and whether it may ask again
// (jwks_min_interval). Now must be safe for concurrent use and must not
// block: it is called from every authenticating connection's goroutine.
// It is not used to check a token's exp, nbf or iat claims.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// WithClock makes the JWKS cache read the time from c (a nil c: the wall
// clock): a server under test moves it by hand.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// New builds the backend of cfg; client fetches its JWKS URL. A JWKS
// file must load; a JWKS URL may be down at start-up.
func New(cfg configs.JWTAuth, client *http.Client, with ...Option) (*Auth, error) {
	var o options
	for _, opt := range with {
		opt(&o)
	}
	j := &Auth{cfg: cfg}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = jwtAlgorithms
	}
	opts := []gojwt.ParserOption{gojwt.WithValidMethods(algs), gojwt.WithLeeway(cfg.Leeway), gojwt.WithIssuedAt()}
	if cfg.Issuer != "" {
		opts = append(opts, gojwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, gojwt.WithAudience(cfg.Audience))
	}
	j.parser = gojwt.NewParser(opts...)
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
		j.jwks = newJWKSCache(cfg.JWKSFile, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSMinInterval, client, o.clock)
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
func (j *Auth) token(c auth.ConnInfo) string {
	t := j.cfg.Token
	if r, ok := c.(auth.RequestInfo); ok {
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

// Authenticate verifies the client's token. A JWKS URL is fetched, when
// due, on the calling goroutine within ctx.
func (j *Auth) Authenticate(ctx context.Context, c auth.ConnInfo) error {
	raw := j.token(c)
	if raw == "" {
		return auth.ErrNotMine
	}
	claims := gojwt.MapClaims{}
	_, err := j.parser.ParseWithClaims(raw, claims, func(t *gojwt.Token) (any, error) { return j.key(ctx, t) })
	if err != nil {
		switch {
		case errors.Is(err, gojwt.ErrTokenExpired), errors.Is(err, gojwt.ErrTokenNotValidYet),
			errors.Is(err, gojwt.ErrTokenUsedBeforeIssued),
			errors.Is(err, gojwt.ErrTokenInvalidIssuer), errors.Is(err, gojwt.ErrTokenInvalidAudience):
			return mqtt.Errorf(mqtt.NotAuthorized, "", "token refused: %v", err)
		}
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "token invalid: %v", err)
	}
	user, _ := claims[j.cfg.UsernameClaim].(string)
	if user == "" {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "token has no %q claim", j.cfg.UsernameClaim)
	}
	var acl *auth.ACLClaims
	if j.cfg.ACLClaim != "" {
		if v, ok := claims[j.cfg.ACLClaim]; ok {
			if acl, err = auth.ParseACLClaim(v); err != nil {
				return mqtt.Errorf(mqtt.NotAuthorized, "", "token claim %q: %v", j.cfg.ACLClaim, err)
			}
		}
	}
	var rate *auth.RateLimitClaims
	if j.cfg.RateLimitClaim != "" {
		if v, ok := claims[j.cfg.RateLimitClaim]; ok {
			if rate, err = auth.ParseRateLimitClaim(v); err != nil {
				return mqtt.Errorf(mqtt.NotAuthorized, "", "token claim %q: %v", j.cfg.RateLimitClaim, err)
			}
		}
	}
	if g := auth.GrantOf(c); g != nil {
		g.Username, g.ACL, g.Rate = user, acl, rate
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			g.Expires = exp.Add(j.cfg.Leeway)
		}
	}
	return nil
}

// key returns the verification key(s) of token t.
func (j *Auth) key(ctx context.Context, t *gojwt.Token) (any, error) {
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
		set := gojwt.VerificationKeySet{}
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
