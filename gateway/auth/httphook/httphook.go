package httphook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
)

const (
	defaultHTTPAuthTimeout = 2 * time.Second
	httpAuthCacheMax       = 10000
)

// Hook asks an HTTP service (a backend of type http): it POSTs a JSON httpAuthRequest to the
// configured URL and expects 200 with {"result": "allow" | "deny" |
// "ignore", "reason_code": N}. ignore leaves the decision to the next
// backend; deny refuses with reason_code (0x80 or above; default Not
// Authorized 0x87). Anything else — a transport error, the timeout, a
// status other than 200, a body that does not parse — refuses the client
// with Server Unavailable (0x88; 3.x: 3), or lets it in with fail_open.
// allow and deny answers are cached for cache_ttl, keyed by a SHA-256 of
// the request (remote address without its port): the cache holds no
// password. It is safe for concurrent use.
type Hook struct {
	name   string
	cfg    configs.HTTPAuth
	client *http.Client

	mu    lockorder.Mutex[httpAuthMu]
	cache map[[32]byte]httpAuthEntry
}

type httpAuthEntry struct {
	err     error // nil: allow
	rate    *auth.RateLimitClaims
	expires time.Time
}

// httpAuthRequest is the JSON body the hook receives.
type httpAuthRequest struct {
	ClientID        string `json:"clientid"`
	Username        string `json:"username"`
	Password        []byte `json:"password"` // base64 (encoding/json)
	Listener        string `json:"listener"`
	Transport       string `json:"transport"`
	RemoteAddr      string `json:"remote_addr"`
	CertIdentity    string `json:"cert_identity"`
	ProtocolVersion int    `json:"protocol_version"`
}

type httpAuthResponse struct {
	Result     string `json:"result"`
	ReasonCode *int   `json:"reason_code"`
	// RateLimit, on allow, is the client's own publish limits.
	RateLimit *auth.RateLimitClaims `json:"rate_limit"`
}

// New returns the hook of the backend named name (the name goes in its
// refusals); client makes its requests.
func New(name string, cfg configs.HTTPAuth, client *http.Client) *Hook {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultHTTPAuthTimeout
	}
	return &Hook{name: name, cfg: cfg, client: client, cache: make(map[[32]byte]httpAuthEntry)}
}

// Authenticate asks the hook about c, within ctx and the configured
// timeout, unless the cache has the answer.
func (h *Hook) Authenticate(ctx context.Context, c auth.ConnInfo) error {
	id := c.CertIdentity()
	if id == "" {
		id = certs.Identity(c.TLS(), "")
	}
	req := httpAuthRequest{
		ClientID: c.ClientID(), Username: c.Username(), Password: c.Password(),
		Listener: c.Listener(), Transport: string(c.Transport()), RemoteAddr: c.RemoteAddr().String(),
		CertIdentity: id, ProtocolVersion: int(c.ProtocolVersion()),
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// The cache key is a hash of the request with the remote address
	// reduced to its host: a reconnect comes from another port.
	if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		req.RemoteAddr = host
	}
	keyBody, _ := json.Marshal(req)
	key := sha256.Sum256(keyBody)
	clear(keyBody)
	now := time.Now()
	if h.cfg.CacheTTL > 0 {
		h.mu.Lock()
		e, ok := h.cache[key]
		h.mu.Unlock()
		if ok && now.Before(e.expires) {
			h.grant(c, e.err, e.rate)
			return e.err
		}
	}
	ans, rate, err := h.ask(ctx, body)
	if err != nil {
		if h.cfg.FailOpen {
			return nil
		}
		// The reason may reach the client (v5 Reason String): it names
		// the failure, not the hook's address.
		return mqtt.Errorf(mqtt.ServerUnavailable, "", "auth hook %q failed: %s", h.name, hookFailure(ctx, err))
	}
	if ans != auth.ErrNotMine && h.cfg.CacheTTL > 0 {
		h.mu.Lock()
		if len(h.cache) >= httpAuthCacheMax {
			for k, e := range h.cache {
				if !now.Before(e.expires) {
					delete(h.cache, k)
				}
			}
			if len(h.cache) >= httpAuthCacheMax {
				clear(h.cache)
			}
		}
		h.cache[key] = httpAuthEntry{err: ans, rate: rate, expires: now.Add(h.cfg.CacheTTL)}
		h.mu.Unlock()
	}
	h.grant(c, ans, rate)
	return ans
}

// grant hands an allow's rate limit on to the connection.
func (h *Hook) grant(c auth.ConnInfo, ans error, rate *auth.RateLimitClaims) {
	if g := auth.GrantOf(c); g != nil && ans == nil {
		g.Rate = rate
	}
}

// ask posts body and returns the answer as an Authenticate result, with
// an allow's rate limit; err is for a failed exchange.
func (h *Hook) ask(ctx context.Context, body []byte) (ans error, rate *auth.RateLimitClaims, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, errHookStatus{resp.StatusCode}
	}
	var r httpAuthResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&r); err != nil {
		return nil, nil, fmt.Errorf("decoding answer: %w", err)
	}
	switch r.Result {
	case "allow":
		if err := r.RateLimit.Check(); err != nil {
			return nil, nil, fmt.Errorf("rate_limit: %w", err)
		}
		return nil, r.RateLimit, nil
	case "ignore":
		return auth.ErrNotMine, nil, nil
	case "deny":
		code := mqtt.NotAuthorized
		if r.ReasonCode != nil {
			if *r.ReasonCode < 0x80 || *r.ReasonCode > 0xFF {
				return nil, nil, fmt.Errorf("reason_code %d is not a refusal (0x80 to 0xFF)", *r.ReasonCode)
			}
			code = mqtt.ReasonCode(*r.ReasonCode)
		}
		return mqtt.Errorf(code, "", "refused by auth hook %q", h.name), nil, nil
	}
	return nil, nil, fmt.Errorf("result %q: want allow, deny or ignore", r.Result)
}

type errHookStatus struct{ code int }

func (e errHookStatus) Error() string { return fmt.Sprintf("answered status %d", e.code) }

// hookFailure describes err without the URL a transport error carries.
func hookFailure(ctx context.Context, err error) string {
	var st errHookStatus
	var ue *url.Error
	switch {
	case errors.As(err, &st):
		return st.Error()
	case ctx.Err() != nil:
		return "client gone"
	case errors.As(err, &ue) && ue.Timeout():
		return "timed out"
	case errors.As(err, &ue):
		return "request failed"
	}
	return err.Error() // a bad answer: decoding or result
}
