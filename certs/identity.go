package certs

import "crypto/tls"

// Identity fields of client_auth.identity.
const (
	IdentityCN       = "cn"
	IdentitySANDNS   = "san_dns"
	IdentitySANEmail = "san_email"
	IdentitySANURI   = "san_uri"
)

// Identity returns the identity a verified client certificate carries in
// field: the subject common name (cn, also for an empty field), the first
// DNS name SAN (san_dns), the first email SAN (san_email) or the first URI
// SAN (san_uri) (SANs per RFC 5280 §4.2.1.6). It returns "" when state is
// nil, the client sent no certificate, the certificate was not verified
// (client_auth.mode none: crypto/tls does not verify, so nothing
// unverified is ever returned), the field is unknown or the certificate
// has no such value. The listener hands the result to authentication per
// client_auth.identity_as.
func Identity(state *tls.ConnectionState, field string) string {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return ""
	}
	c := state.VerifiedChains[0][0]
	switch field {
	case IdentityCN, "":
		return c.Subject.CommonName
	case IdentitySANDNS:
		if len(c.DNSNames) > 0 {
			return c.DNSNames[0]
		}
	case IdentitySANEmail:
		if len(c.EmailAddresses) > 0 {
			return c.EmailAddresses[0]
		}
	case IdentitySANURI:
		if len(c.URIs) > 0 {
			return c.URIs[0].String()
		}
	}
	return ""
}
