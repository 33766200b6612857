// Package jwt authenticates clients by JSON Web Token (Auth, a backend of
// type jwt): the token comes from the WebSocket upgrade request or the
// CONNECT password, is verified with a secret, a public key or a JSON Web
// Key Set (from a file or URL, reloaded lazily), and hands on its user
// name, expiry, ACL and publish-rate claims (auth.Grant).
//
// It may import mqtt, configs, gateway/auth and gateway/internal/lockorder.
//
// Lock classes: jwksCache.fetchMu → jwksCache.mu (one key-set load at a
// time; the set is replaced under mu).
package jwt
