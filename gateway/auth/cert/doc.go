// Package cert authenticates clients by the identity of their verified
// client certificate (Auth, a backend of type cert).
//
// It may import mqtt, configs, certs (a certificate's identity) and
// gateway/auth. It has no locks.
package cert
