package configs

import "time"

// AuthBackend is one named authentication backend (auth.backends.NAME).
// Type selects which of the sections below applies; the others must be
// left empty.
type AuthBackend struct {
	// Type is password_file, jwt, http, cert or plugin (an
	// Authenticator of the embedding program: gateway.WithAuthenticator).
	Type string `yaml:"type"`
	// PasswordFile configures type password_file.
	PasswordFile PasswordFileAuth `yaml:"password_file"`
	// JWT configures type jwt.
	JWT JWTAuth `yaml:"jwt"`
	// HTTP configures type http.
	HTTP HTTPAuth `yaml:"http"`
	// Cert configures type cert.
	Cert CertAuth `yaml:"cert"`
}

// PasswordFileAuth is a file of "user:hash" lines (argon2id PHC or bcrypt).
type PasswordFileAuth struct {
	// Path is the password file, written by `edgemq passwd`.
	Path string `yaml:"path"`
	// ReloadInterval is how often the file's size and modification time
	// are checked; a change reloads it. 0 never reloads.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// JWTAuth verifies JSON Web Tokens.
type JWTAuth struct {
	// Algorithms are the accepted "alg" values: HS256, RS256, ES256,
	// EdDSA. Empty accepts all four (each only with a key of its kind).
	Algorithms []string `yaml:"algorithms"`
	// SecretFile holds the HS256 shared secret (the whole file, trailing
	// newline removed).
	SecretFile string `yaml:"secret_file"`
	// PublicKeyFile holds a PEM public key (RSA, ECDSA P-256 or Ed25519)
	// or certificate.
	PublicKeyFile string `yaml:"public_key_file"`
	// JWKSFile is a JSON Web Key Set file.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is a JSON Web Key Set fetched over HTTP(S).
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is how often the JWKS (file or URL) is reloaded.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// JWKSMinInterval rate-limits reloads triggered by an unknown kid.
	JWKSMinInterval time.Duration `yaml:"jwks_min_interval"`
	// Issuer, when set, must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must be one of the aud claim's values.
	Audience string `yaml:"audience"`
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway time.Duration `yaml:"leeway"`
	// UsernameClaim names the claim that becomes the client's user name.
	UsernameClaim string `yaml:"username_claim"`
	// ACLClaim names an optional claim {pub: [...], sub: [...]} of topic
	// filters handed to the authorizer.
	ACLClaim string `yaml:"acl_claim"`
	// RateLimitClaim names an optional claim {messages_per_second,
	// messages_burst, bytes_per_second, bytes_burst} whose fields replace
	// those of the listener's publish_rate for the client.
	RateLimitClaim string `yaml:"rate_limit_claim"`
	// Token says where the token is taken from.
	Token JWTTokenSource `yaml:"token"`
}

// JWTTokenSource says where a JWT is looked for, in this order: header,
// cookie, query (ws and wss only), then the CONNECT password.
type JWTTokenSource struct {
	// Password takes the token from the CONNECT password.
	Password bool `yaml:"password"`
	// Header names an HTTP header of the WebSocket upgrade request; a
	// "Bearer " prefix is removed.
	Header string `yaml:"header"`
	// Cookie names a cookie of the WebSocket upgrade request.
	Cookie string `yaml:"cookie"`
	// Query names a query parameter of the WebSocket upgrade URL.
	Query string `yaml:"query"`
}

// HTTPAuth asks an HTTP service.
type HTTPAuth struct {
	// URL receives the JSON POST.
	URL string `yaml:"url"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// CacheTTL is how long an allow or deny answer is reused for an
	// identical request; 0 disables the cache.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// FailOpen lets clients in when the service fails (error, timeout,
	// bad answer); by default they are refused.
	FailOpen bool `yaml:"fail_open"`
}

// CertAuth lets in clients with a verified certificate identity.
type CertAuth struct {
	// Identities, when set, are the only identities allowed.
	Identities []string `yaml:"identities"`
}
