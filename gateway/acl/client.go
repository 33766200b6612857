package acl

import (
	"crypto/tls"
	"net"
	"strings"

	"edgemq/listeners"
	"edgemq/mqtt"
)

// View is the ConnInfo authorizers get: what CONNECT said, without the
// credentials (Password and AuthData are nil). Its CertIdentity is the
// verified client certificate's identity (client_auth.identity)
// whenever there is one, also when the listener does not hand it to
// authentication (identity_as none). A value: copy it to change it.
type View struct {
	meta                     *listeners.Meta
	version                  mqtt.Version
	clientID                 string
	username                 string
	hasUsername, hasPassword bool
	authMethod               string
	certID                   string
}

// NewView returns the view of a client that sent c on the connection of
// meta, with client identifier clientID (the assigned one when c had
// none) and certificate identity certID ("" for none).
func NewView(meta *listeners.Meta, c *mqtt.Connect, clientID, certID string) View {
	return View{
		meta: meta, version: c.Version, clientID: clientID, certID: certID,
		username: c.Username, hasUsername: c.UsernameFlag, hasPassword: c.PasswordFlag,
		authMethod: c.Properties.AuthenticationMethod,
	}
}

// StoredView returns the view of a session owner restored from the store:
// it knows the listener, client id, user name and certificate identity;
// the remote address, transport, TLS state and protocol version of a
// connection that is gone are zero.
func StoredView(listener, clientID, username string, hasUsername bool, certID string) View {
	return View{meta: &listeners.Meta{Listener: listener}, clientID: clientID,
		username: username, hasUsername: hasUsername, certID: certID}
}

// WithUsername returns a copy of v whose user name is username (an
// enhanced re-authentication's user).
func (v View) WithUsername(username string) View {
	v.username, v.hasUsername = username, true
	return v
}

// Listener implements ConnInfo; "" for a view without connection metadata.
func (v *View) Listener() string {
	if v.meta == nil {
		return ""
	}
	return v.meta.Listener
}

// Transport implements ConnInfo.
func (v *View) Transport() listeners.Transport { return v.meta.Transport }

// RemoteAddr implements ConnInfo.
func (v *View) RemoteAddr() net.Addr { return v.meta.RemoteAddr }

// TLS implements ConnInfo.
func (v *View) TLS() *tls.ConnectionState { return v.meta.TLS }

// ProtocolVersion implements ConnInfo.
func (v *View) ProtocolVersion() mqtt.Version { return v.version }

// ClientID implements ConnInfo.
func (v *View) ClientID() string { return v.clientID }

// Username implements ConnInfo.
func (v *View) Username() string { return v.username }

// HasUsername implements ConnInfo.
func (v *View) HasUsername() bool { return v.hasUsername }

// Password implements ConnInfo: always nil, the credentials are not kept.
func (v *View) Password() []byte { return nil }

// HasPassword implements ConnInfo.
func (v *View) HasPassword() bool { return v.hasPassword }

// AuthMethod implements ConnInfo.
func (v *View) AuthMethod() string { return v.authMethod }

// AuthData implements ConnInfo: always nil, the credentials are not kept.
func (v *View) AuthData() []byte { return nil }

// CertIdentity implements ConnInfo.
func (v *View) CertIdentity() string { return v.certID }

// cacheSize bounds a connection's cache of publish decisions.
const cacheSize = 64

// bits are the cached decisions for one topic: bit qos*2+retain says the
// decision is known, the same bit shifted by 8 that it allows.
type bits uint16

// Client is the authorization state of one connection: its View and its
// cache of publish decisions. The zero value has an empty view. Not safe
// for concurrent use: only the connection's read goroutine uses it.
type Client struct {
	// view is nil until SetView or ShareView. A pointer, so that the
	// connection's view and the session owner's (gateway/proto/owner.go)
	// are one copy.
	view *View
	// from is the authorizer state the cache was filled from.
	from  *State
	cache map[string]bits
}

// SetView makes v the client's view (once authenticated).
func (c *Client) SetView(v View) { c.view = &v }

// ShareView makes *v the client's view without copying it: v must not
// change while the client uses it (the connection's view, shared with
// its session's owner).
func (c *Client) ShareView(v *View) { c.view = v }

// View returns the client's view, as ConnInfo for authorizers; an empty
// one before SetView. Do not change it: copy it (*View) to make another.
func (c *Client) View() *View {
	if c.view == nil {
		return &View{}
	}
	return c.view
}

// Authorized asks st whether the client may do a with topic, without the
// cache. $SYS topics are the server's own: a client may not publish there.
func (c *Client) Authorized(st *State, a Action, topic string, qos byte, retain bool) bool {
	if a == ActionPublish && IsSysTopic(topic) {
		return false
	}
	return st.Authorize(c.View(), a, topic, qos, retain)
}

// MayPublish reports whether the client, with the credential claims, may
// publish p under st: never to $SYS, only within its claims, then as st
// decides, from the cache when it can. A cache hit costs no allocation;
// a decision made under another state is not used.
func (c *Client) MayPublish(st *State, claims *Claims, p *mqtt.Publish) bool {
	if IsSysTopic(p.Topic) {
		return false
	}
	if !claims.AllowsPublish(p.Topic) {
		// The credential's ACL claims narrow what the rules allow.
		return false
	}
	if st.AllowsAll() {
		return true
	}
	if c.from != st {
		clear(c.cache)
		c.from = st
	}
	bit := bits(1) << (p.QoS*2 + b2u8(p.Retain))
	got, known := c.cache[p.Topic]
	if got&bit != 0 {
		return got&(bit<<8) != 0
	}
	ok := st.a.Authorize(c.View(), ActionPublish, p.Topic, p.QoS, p.Retain)
	got |= bit
	if ok {
		got |= bit << 8
	}
	if known {
		c.cache[p.Topic] = got
		return ok
	}
	if c.cache == nil {
		c.cache = make(map[string]bits)
	} else if len(c.cache) >= cacheSize {
		for k := range c.cache {
			delete(c.cache, k) // any one: the map's order is random
			break
		}
	}
	// A copy: the decoded topic shares its memory with the payload.
	c.cache[strings.Clone(p.Topic)] = got
	return ok
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}
