package proto

// The channel's state that most connections never use, kept out of the
// Channel so that an idle connection does not carry it (issue 17: a
// connection's Conn, with its Channel inline, fits the 576-byte size
// class instead of 768):
//   - rareState: enhanced authentication (enhauth.go) and the brute-force
//     delays (effects.go), made by the first of them; the read goroutine's
//     alone, like the fields it replaces;
//   - the credential's ACL and rate claims and its expiry (authExpiry,
//     channel_auth.go), made when the grant carries any of them, or by
//     ExtendAuth; an atomic pointer, read by other goroutines (the expiry
//     timer, the admin API, ExtendAuth).

import (
	"time"

	"edgemq/gateway/auth"
)

// rareState is what a channel holds only while it uses enhanced
// authentication or waits out a brute-force delay.
type rareState struct {
	// authx is the enhanced authentication state (enhauth.go).
	authx authFlow
	// held is a CONNECT whose answer waits for a brute-force delay, and
	// errDelay the delay before the error handle returned is acted on
	// (effects.go).
	held     *heldConnect
	errDelay time.Duration
}

// rareOrNew returns the channel's rare state, made on first use (read
// goroutine only).
func (ch *Channel) rareOrNew() *rareState {
	if ch.rare == nil {
		ch.rare = &rareState{}
	}
	return ch.rare
}

// authFlowOf returns the enhanced authentication state; the zero flow
// (no method, nothing pending) when none was started.
func (ch *Channel) authFlowOf() authFlow {
	if ch.rare == nil {
		return authFlow{}
	}
	return ch.rare.authx
}

// cred returns the credential's state, nil when the grant carried no
// claims and no expiry. Safe from any goroutine.
func (ch *Channel) cred() *authExpiry { return ch.credp.Load() }

// credOrNew returns the credential's state, made if there was none;
// safe from any goroutine (ExtendAuth): one of concurrent callers' wins.
func (ch *Channel) credOrNew() *authExpiry {
	if c := ch.credp.Load(); c != nil {
		return c
	}
	ch.credp.CompareAndSwap(nil, &authExpiry{})
	return ch.credp.Load()
}

// aclClaims returns the credential's ACL claims, nil for none.
func (ch *Channel) aclClaims() *auth.ACLClaims {
	if c := ch.cred(); c != nil {
		return c.acl
	}
	return nil
}
