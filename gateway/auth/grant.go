package auth

import (
	"edgemq/configs"
	"errors"
	"fmt"
	"math"
	"time"
)

// Grant is what the deciding backend hands on with an allow, beyond the
// yes. Built-in backends fill it through GrantOf; the channel applies it
// once the chain allowed the client.
type Grant struct {
	// Username, when set, replaces the CONNECT user name (a JWT's
	// username claim).
	Username string
	// Expires, when set, is when the credential stops being valid: the
	// client is disconnected then (Expiry).
	Expires time.Time
	// ACL are the credential's ACL claims, nil for none.
	ACL *ACLClaims
	// Rate are the credential's publish limits, nil for none.
	Rate *RateLimitClaims
}

// ACLClaims are topic filters a credential (a JWT's acl claim) carries.
// They are read-only once the client is connected. Its layout is that of
// acl.Claims, so a pointer to one converts to a pointer to the other.
type ACLClaims struct {
	// Pub are the topic filters the client may publish to.
	Pub []string
	// Sub are the topic filters the client may subscribe to.
	Sub []string
}

// RateLimitClaims are a credential's own publish limits (a JWT's
// rate_limit_claim, an HTTP hook's rate_limit answer). A nil field keeps
// the listener's publish_rate value. Read-only once the client is
// connected.
type RateLimitClaims struct {
	MessagesPerSecond *float64 `json:"messages_per_second"`
	MessagesBurst     *int     `json:"messages_burst"`
	BytesPerSecond    *float64 `json:"bytes_per_second"`
	BytesBurst        *int64   `json:"bytes_burst"`
}

// Apply returns base with the claims' set fields replacing base's; nil
// claims return base.
func (r *RateLimitClaims) Apply(base configs.PublishRate) configs.PublishRate {
	if r == nil {
		return base
	}
	setIf(&base.MessagesPerSecond, r.MessagesPerSecond)
	setIf(&base.MessagesBurst, r.MessagesBurst)
	setIf(&base.BytesPerSecond, r.BytesPerSecond)
	setIf(&base.BytesBurst, r.BytesBurst)
	return base
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Check refuses negative or non-finite values; nil claims pass.
func (r *RateLimitClaims) Check() error {
	if r == nil {
		return nil
	}
	for _, f := range []*float64{r.MessagesPerSecond, r.BytesPerSecond} {
		if f != nil && (*f < 0 || math.IsInf(*f, 0) || math.IsNaN(*f)) {
			return errors.New("rates must be finite and not negative")
		}
	}
	if (r.MessagesBurst != nil && *r.MessagesBurst < 0) || (r.BytesBurst != nil && *r.BytesBurst < 0) {
		return errors.New("bursts must not be negative")
	}
	return nil
}

// ParseRateLimitClaim reads a claim {messages_per_second,
// messages_burst, bytes_per_second, bytes_burst} (numbers, as
// encoding/json decodes them into any).
func ParseRateLimitClaim(v any) (*RateLimitClaims, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want an object {messages_per_second, bytes_per_second, ...}")
	}
	num := func(k string) (*float64, error) {
		raw, ok := m[k]
		if !ok {
			return nil, nil
		}
		f, ok := raw.(float64)
		if !ok {
			return nil, fmt.Errorf("%s: want a number", k)
		}
		return &f, nil
	}
	var r RateLimitClaims
	var err error
	if r.MessagesPerSecond, err = num("messages_per_second"); err != nil {
		return nil, err
	}
	if r.BytesPerSecond, err = num("bytes_per_second"); err != nil {
		return nil, err
	}
	mb, err := num("messages_burst")
	if err != nil {
		return nil, err
	}
	if mb != nil {
		n := int(min(*mb, math.MaxInt32))
		r.MessagesBurst = &n
	}
	bb, err := num("bytes_burst")
	if err != nil {
		return nil, err
	}
	if bb != nil {
		n := int64(min(*bb, math.MaxInt64/2))
		r.BytesBurst = &n
	}
	return &r, r.Check()
}

// ParseACLClaim reads a claim {"pub": [...], "sub": [...]}.
func ParseACLClaim(v any) (*ACLClaims, error) {
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
