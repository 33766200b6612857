package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"time"

	"edgemq/gateway/internal/lockorder"
)

// JWKS defaults.
const (
	defaultJWKSRefresh     = 10 * time.Minute
	defaultJWKSMinInterval = 30 * time.Second
	jwksMaxBytes           = 1 << 20
)

// jwksCache holds a JSON Web Key Set from a file or URL. It reloads
// lazily, when a token is verified (no goroutine): once refresh (default
// 10m) has passed since the last load, and on a kid it does not know; in
// both cases at most once per minInterval (default 30s), so tokens with
// made-up kids cannot make it hammer the JWKS server. A failed reload
// keeps the previous keys.
type jwksCache struct {
	file, url   string
	refresh     time.Duration
	minInterval time.Duration
	client      *http.Client
	clock       Clock // nil: the wall clock (now)

	fetchMu lockorder.Mutex[jwksFetchMu] // one load at a time
	mu      lockorder.Mutex[jwksMu]
	keys    []jwkKey
	loaded  time.Time // last successful load
	tried   time.Time // last attempt
}

// jwkKey is one usable key of the set.
type jwkKey struct {
	kid string
	alg string // "" when the JWK does not say
	key any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
}

func newJWKSCache(file, url string, refresh, minInterval time.Duration, client *http.Client, clock Clock) *jwksCache {
	if refresh <= 0 {
		refresh = defaultJWKSRefresh
	}
	if minInterval <= 0 {
		minInterval = defaultJWKSMinInterval
	}
	return &jwksCache{file: file, url: url, refresh: refresh, minInterval: minInterval, client: client, clock: clock}
}

// now is the cache's time: its clock's, the wall clock's without one.
func (c *jwksCache) now() time.Time {
	if c.clock == nil {
		return time.Now()
	}
	return c.clock.Now()
}

// lookup returns the keys for a token's kid (every key fitting alg when
// the token has no kid). The set is reloaded when it is stale or the kid
// is unknown, at most once per minInterval whatever the reason, so that
// a JWKS server that is down is not asked on every connect. While one
// caller reloads a stale set, callers that have their key use it.
func (c *jwksCache) lookup(ctx context.Context, kid, alg string) ([]any, error) {
	keys, stale, tried := c.snapshot()
	found := matchJWK(keys, kid, alg)
	if (len(found) == 0 || stale) && c.now().Sub(tried) >= c.minInterval {
		locked := true
		if len(found) > 0 {
			locked = c.fetchMu.TryLock()
		} else {
			c.fetchMu.Lock()
		}
		if locked {
			// Another caller may have loaded meanwhile.
			keys, stale, tried = c.snapshot()
			found = matchJWK(keys, kid, alg)
			if (len(found) == 0 || stale) && c.now().Sub(tried) >= c.minInterval {
				_ = c.load(ctx)
				keys, _, _ = c.snapshot()
				found = matchJWK(keys, kid, alg)
			}
			c.fetchMu.Unlock()
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no key for kid %q and algorithm %s", kid, alg)
	}
	return found, nil
}

func (c *jwksCache) snapshot() (keys []jwkKey, stale bool, tried time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys, c.now().Sub(c.loaded) >= c.refresh, c.tried
}

func matchJWK(keys []jwkKey, kid, alg string) []any {
	var out []any
	for _, k := range keys {
		if kid != "" && k.kid != kid {
			continue
		}
		if (k.alg == "" || k.alg == alg) && keyFits(alg, k.key) {
			out = append(out, k.key)
		}
	}
	return out
}

// load reads the set from the file or URL.
func (c *jwksCache) load(ctx context.Context) error {
	c.mu.Lock()
	c.tried = c.now()
	c.mu.Unlock()
	var data []byte
	var err error
	if c.url != "" {
		data, err = c.fetch(ctx)
	} else {
		data, err = os.ReadFile(c.file)
	}
	if err != nil {
		return fmt.Errorf("loading JWKS: %w", err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return fmt.Errorf("loading JWKS: %w", err)
	}
	c.mu.Lock()
	c.keys, c.loaded = keys, c.now()
	c.mu.Unlock()
	return nil
}

func (c *jwksCache) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", c.url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes))
}

// parseJWKS reads the RSA, EC P-256, OKP Ed25519 and oct keys of a set
// meant for signatures; other keys are skipped.
func parseJWKS(data []byte) ([]jwkKey, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, Crv string
			N, E, X, Y, K           string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding
	var out []jwkKey
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var key any
		switch k.Kty {
		case "RSA":
			n, err1 := b64.DecodeString(k.N)
			e, err2 := b64.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				continue
			}
			key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			raw := append(append([]byte{4}, x...), y...)
			pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
			if err != nil {
				continue
			}
			key = pk
		case "OKP":
			x, err := b64.DecodeString(k.X)
			if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
				continue
			}
			key = ed25519.PublicKey(x)
		case "oct":
			s, err := b64.DecodeString(k.K)
			if err != nil || len(s) < 32 {
				continue
			}
			key = s
		default:
			continue
		}
		out = append(out, jwkKey{kid: k.Kid, alg: k.Alg, key: key})
	}
	if len(out) == 0 {
		return nil, errors.New("no usable key in the set")
	}
	return out, nil
}
