package configs

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// validateACME checks the acme settings of a certmagic or autocert source
// (validateTLSSource calls it). path is the key of the acme block.
//
//   - directory, when set, is an https URL (RFC 8555 §6.1: ACME is HTTPS
//     only); empty means Let's Encrypt production.
//   - email is optional; when set it is a bare address.
//   - domains are DNS names without wildcards (wildcards need DNS-01,
//     which edgemq does not answer); required for autocert, and for
//     certmagic unless on-demand issuance is on.
//   - on_demand is certmagic only and needs allow or ask, otherwise any
//     name a client sends would be requested from the CA; ask is an http
//     or https URL.
//   - http_address, when set, is host:port.
func validateACME(ps *problems, path, source string, a ACME) {
	if a.Directory != "" && !isURL(a.Directory, "https") {
		ps.add(path+".directory", "%q is not an https URL: ACME servers are reached over HTTPS; empty means Let's Encrypt", a.Directory)
	}
	if a.Email != "" {
		if addr, err := mail.ParseAddress(a.Email); err != nil || addr.Address != a.Email {
			ps.add(path+".email", "%q is not an email address", a.Email)
		}
	}

	switch {
	case len(a.Domains) > 0:
	case source == "autocert":
		ps.add(path+".domains", "is required for source autocert: it only obtains certificates for these names")
	case !a.OnDemand.Enabled:
		ps.add(path+".domains", "is required unless on_demand.enabled is true")
	}
	for i, d := range a.Domains {
		if reason := dnsNameProblem(d); reason != "" {
			ps.add(fmt.Sprintf("%s.domains[%d]", path, i), "%s", reason)
		}
	}

	od := a.OnDemand
	if od.Enabled && source == "autocert" {
		ps.add(path+".on_demand.enabled", "on-demand issuance needs source certmagic; autocert only obtains acme.domains")
	}
	if od.Enabled && len(od.Allow) == 0 && od.Ask == "" {
		ps.add(path+".on_demand", "allow or ask is required when on-demand issuance is enabled, "+
			"otherwise any name a client sends would be requested from the CA")
	}
	for i, d := range od.Allow {
		if reason := dnsNameProblem(d); reason != "" {
			ps.add(fmt.Sprintf("%s.on_demand.allow[%d]", path, i), "%s", reason)
		}
	}
	if od.Ask != "" && !isURL(od.Ask, "http", "https") {
		ps.add(path+".on_demand.ask", "%q is not an http or https URL", od.Ask)
	}

	if a.HTTPAddress != "" {
		_, port, err := net.SplitHostPort(a.HTTPAddress)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			ps.add(path+".http_address", "%q is not host:port with a port from 1 to 65535 (e.g. \":80\")", a.HTTPAddress)
		}
	}
}

// isURL reports whether s is an absolute URL with a host and one of
// schemes.
func isURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	for _, scheme := range schemes {
		if u.Scheme == scheme {
			return true
		}
	}
	return false
}

// dnsNameProblem says why name cannot get an HTTP-01 or TLS-ALPN-01
// certificate, or returns "" when it can.
func dnsNameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.HasPrefix(name, "*."):
		return fmt.Sprintf("%q is a wildcard: wildcard certificates need the DNS-01 challenge, which edgemq does not answer", name)
	case strings.ContainsAny(name, ":/ @"):
		return fmt.Sprintf("%q is not a DNS name (no scheme, port or path)", name)
	}
	return ""
}
