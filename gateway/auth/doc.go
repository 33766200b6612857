// Package auth decides whether a client may connect. It owns the seams
// (Authenticator, ConnInfo and RequestInfo, Method and Exchange for MQTT 5
// enhanced authentication), the one implementation of ConnInfo the server
// hands to authenticators (View) and what an allowing backend hands on
// with it (Grant: user name, expiry, ACL and publish-rate claims), the
// chain of a listener's backends (Chain), the caps on authentications in
// progress and the hash pool that bounds password-hash memory (Limits,
// Gate, HashPool), a connection's credential expiry (Expiry), and the
// counters of failed authentications (Stats).
//
// The backends are below it and import it, never the other way:
// passwd (auth.users and password files, the password hash formats),
// jwt (JSON Web Tokens and JWKS), httphook (an HTTP service), cert
// (client certificates), scram (the SCRAM store and enhanced-auth
// methods) and bruteforce (the failure delays). The server (the gateway
// root) builds a listener's chain from the configuration; the channel
// runs it and the enhanced-auth exchange through this package's exported
// API.
//
// It may import the codec (mqtt), configs, listeners (connection
// metadata), gateway/stats, gateway/filewatch, gateway/logsafe,
// gateway/internal/lockorder, and its own subpackages' leaves; never the
// root, proto, broker or acl.
//
// Lock classes: authExpiry.mu (Expiry; a leaf: its callback runs with no
// lock held) and authGate.mu (Gate; a leaf).
package auth
