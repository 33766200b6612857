package configs

import (
	"edgemq/mqtt"

	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MQTT protocol bounds used by validation.
const (
	// minPacketSize is the smallest max_packet_size accepted.
	minPacketSize = 16
	// maxPacketSize is the largest packet MQTT can encode: a 268435455
	// byte remaining length plus a 5 byte fixed header.
	maxPacketSize = 268435460
	// maxKeepAlive is the largest Keep Alive a two byte field can carry.
	maxKeepAlive = 65535 * time.Second
	// maxClientIDLength is the longest string MQTT can encode.
	maxClientIDLength = 65535
)

// Validate checks the configuration and returns an *Error listing every
// problem, each naming its key path, or nil when there are none.
func (c *Config) Validate() error {
	var ps problems

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		ps.add("log.level", "%q is not a level: want debug, info, warn or error", c.Log.Level)
	}
	if !slices.Contains([]string{"console", "json"}, c.Log.Format) {
		ps.add("log.format", "%q is not a format: want console or json", c.Log.Format)
	}
	if c.DataDir == "" {
		ps.add("data_dir", "is required")
	}

	base := limitProblems(c.MQTT)
	for _, p := range base {
		ps.add("mqtt."+p.field, "%s", p.reason)
	}
	c.validateProfiles(&ps, base)

	if c.Session.MaxOfflineMessages < 0 {
		ps.add("session.max_offline_messages", "%d must not be negative", c.Session.MaxOfflineMessages)
	}
	if c.Session.MaxOutboundQueue < 1 {
		ps.add("session.max_outbound_queue", "%d must be at least 1", c.Session.MaxOutboundQueue)
	}
	if s := c.Session.SharedSubscriptionStrategy; s != "round_robin" && s != "random" {
		ps.add("session.shared_subscription_strategy", "%q is not a strategy: want round_robin or random", s)
	}
	if b := c.Session.OwnerBinding; b != "strict" && b != "any" {
		ps.add("session.owner_binding", "%q is not a binding: want strict or any", b)
	}

	if c.Session.MaxOutboundBytes < 0 {
		ps.add("session.max_outbound_bytes", "%d must not be negative", c.Session.MaxOutboundBytes)
	}
	if c.Session.MaxOfflineBytes < 0 {
		ps.add("session.max_offline_bytes", "%d must not be negative", c.Session.MaxOfflineBytes)
	}
	c.validateQuotas(&ps) // validate_quota.go
	switch c.Store.Durability {
	case "", "sync", "async", "memory":
	default:
		ps.add("store.durability", "%q is not sync, async or memory", c.Store.Durability)
	}
	if c.Store.Durability == "async" && c.Store.FlushInterval <= 0 {
		ps.add("store.flush_interval", "%v must be positive with durability async", c.Store.FlushInterval)
	}
	if c.Retained.MaxMessages < 0 {
		ps.add("retained.max_messages", "%d must not be negative", c.Retained.MaxMessages)
	}
	if c.Retained.MaxBytes < 0 {
		ps.add("retained.max_bytes", "%d must not be negative", c.Retained.MaxBytes)
	}

	c.validateUsers(&ps)
	c.validateAuthBackends(&ps) // validate_auth.go
	c.validateACL(&ps)
	c.validateACLExtensions(&ps) // enhauth.go
	c.validateEnhancedAuth(&ps)  // enhauth.go
	c.validateAuthLimits(&ps)    // auth_limits.go
	c.validateSys(&ps)
	c.validateAdmission(&ps)      // admission.go
	c.validateOverload(&ps)       // ratelimit.go
	c.validateListenerLimits(&ps) // ratelimit.go
	c.validateTLS(&ps)
	c.validateListeners(&ps)
	c.validateOps(&ps)   // ops.go
	c.validateAdmin(&ps) // admin.go

	c.validateCluster(&ps) // cluster.go

	if c.ShutdownTimeout <= 0 {
		ps.add("shutdown_timeout", "%s must be above 0", c.ShutdownTimeout)
	}
	if c.Drain.Period < 0 {
		ps.add("drain.period", "%s must not be negative", c.Drain.Period)
	}
	return ps.err("")
}

// LimitsFor returns the effective limits of listener l: the mqtt section
// with l's profile, if any, applied.
func (c *Config) LimitsFor(l Listener) Limits {
	if p, ok := c.Profiles[l.Profile]; ok && l.Profile != "" {
		return p.Apply(c.MQTT)
	}
	return c.MQTT
}

// Anonymous reports whether clients without credentials may connect to
// the listener: AllowAnonymous when set, otherwise true exactly when the
// listener binds a loopback address (127.0.0.0/8, ::1 or localhost).
func (l Listener) Anonymous() bool {
	if l.AllowAnonymous != nil {
		return *l.AllowAnonymous
	}
	host, _, err := net.SplitHostPort(l.Address)
	return err == nil && isLoopback(host)
}

// isLoopback reports whether host is a loopback address or localhost.
// An empty host binds every interface, so it is not.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// fieldProblem is a problem with a Limits field, keyed by its path under
// mqtt (e.g. "keep_alive.min") so profiles can report it under their own
// key.
type fieldProblem struct {
	field, reason string
}

// limitProblems checks one complete set of limits.
func limitProblems(l Limits) []fieldProblem {
	var ps []fieldProblem
	add := func(field, format string, args ...any) {
		ps = append(ps, fieldProblem{field, fmt.Sprintf(format, args...)})
	}
	if l.MaxPacketSize < minPacketSize || l.MaxPacketSize > maxPacketSize {
		add("max_packet_size", "%d is out of range: must be from %d to %d (the MQTT maximum)",
			l.MaxPacketSize, minPacketSize, maxPacketSize)
	}
	if l.ReceiveMaximum < 1 {
		add("receive_maximum", "must be at least 1")
	}
	if l.MaxInflight < 1 {
		add("max_inflight", "must be at least 1")
	}
	if l.MaximumQoS > 2 {
		add("maximum_qos", "%d is not a QoS: want 0, 1 or 2", l.MaximumQoS)
	}
	if l.MaxSessionExpiry < 0 {
		add("max_session_expiry", "%s must not be negative", l.MaxSessionExpiry)
	}
	for _, ka := range []struct {
		field string
		d     time.Duration
	}{{"keep_alive.min", l.KeepAlive.Min}, {"keep_alive.max", l.KeepAlive.Max}} {
		switch {
		case ka.d < 0:
			add(ka.field, "%s must not be negative", ka.d)
		case ka.d > maxKeepAlive:
			add(ka.field, "%s is above the MQTT maximum keep alive %s (65535s)", ka.d, maxKeepAlive)
		}
	}
	if l.KeepAlive.Max > 0 && l.KeepAlive.Min > l.KeepAlive.Max {
		add("keep_alive.min", "%s is above the maximum keep alive %s", l.KeepAlive.Min, l.KeepAlive.Max)
	}
	if l.ClientID.MaxLength < 1 || l.ClientID.MaxLength > maxClientIDLength {
		add("client_id.max_length", "%d is out of range: must be from 1 to %d", l.ClientID.MaxLength, maxClientIDLength)
	}
	if l.ClientID.MaxLengthV31 < 1 || l.ClientID.MaxLengthV31 > maxClientIDLength {
		add("client_id.max_length_v31", "%d is out of range: must be from 1 to %d", l.ClientID.MaxLengthV31, maxClientIDLength)
	}
	if _, err := regexp.Compile(l.ClientID.Pattern); err != nil {
		add("client_id.pattern", "is not a valid regular expression: %v", err)
	}
	if l.ConnectTimeout <= 0 {
		add("connect_timeout", "%s must be above 0", l.ConnectTimeout)
	}
	ps = append(ps, rateProblems(l.PublishRate)...) // ratelimit.go
	for i, u := range l.ConnackUserProperties {
		for _, s := range []string{u.Key, u.Value} {
			// MQTT strings: well-formed UTF-8 without U+0000 [MQTT-1.5.4-1, -2].
			if err := mqtt.ValidUTF8(s); err != nil || len(s) > 65535 {
				add(fmt.Sprintf("connack_user_properties[%d]", i), "%q is not a valid MQTT string", s)
			}
		}
	}
	return ps
}

// profileKey returns the profile key that overrides the Limits field at
// mqtt path field, or "" when profiles cannot override it.
func profileKey(field string) string {
	switch field {
	case "keep_alive.min":
		return "keep_alive_min"
	case "keep_alive.max":
		return "keep_alive_max"
	case "client_id.max_length":
		return "client_id_max_length"
	case "redirect.server":
		return "redirect_server"
	case "redirect.permanent":
		return "redirect_permanent"
	case "client_id.max_length_v31", "client_id.pattern", "client_id.assigned_prefix":
		return ""
	default:
		return field
	}
}

// validateProfiles checks each profile applied to the mqtt section. A
// problem the mqtt section already has (base) is not repeated.
func (c *Config) validateProfiles(ps *problems, base []fieldProblem) {
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			ps.add("profiles", "a profile name must not be empty")
			continue
		}
		for _, p := range limitProblems(c.Profiles[name].Apply(c.MQTT)) {
			if slices.Contains(base, p) {
				continue
			}
			path := "profiles." + name
			if k := profileKey(p.field); k != "" {
				path += "." + k
			}
			ps.add(path, "%s", p.reason)
		}
	}
}

func (c *Config) validateUsers(ps *problems) {
	seen := map[string]int{}
	for i, u := range c.Auth.Users {
		path := fmt.Sprintf("auth.users[%d]", i)
		if u.Username == "" {
			ps.add(path+".username", "is required")
		} else if first, dup := seen[u.Username]; dup {
			ps.add(path+".username", "%q is already used by auth.users[%d]", u.Username, first)
		} else {
			seen[u.Username] = i
		}
		// Never echo the hash: it may be a plain-text password by mistake.
		switch {
		case u.PasswordHash == "":
			ps.add(path+".password_hash", "is required")
		case !strings.HasPrefix(u.PasswordHash, "$2a$") &&
			!strings.HasPrefix(u.PasswordHash, "$2b$") &&
			!strings.HasPrefix(u.PasswordHash, "$2y$"):
			ps.add(path+".password_hash", "is not a bcrypt hash: it must start with $2a$, $2b$ or $2y$ "+
				`(plain-text passwords are not accepted; make a hash with: edgemq passwd --hash)`)
		default:
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				ps.add(path+".password_hash", "is not a valid bcrypt hash: %v", err)
			}
		}
	}
}

func (c *Config) validateACL(ps *problems) {
	if c.ACL.Default != "allow" && c.ACL.Default != "deny" {
		ps.add("acl.default", "%q is not a permission: want allow or deny", c.ACL.Default)
	}
	for i, r := range c.ACL.Rules {
		path := fmt.Sprintf("acl.rules[%d]", i)
		if r.Permission != "allow" && r.Permission != "deny" {
			ps.add(path+".permission", "%q is not a permission: want allow or deny", r.Permission)
		}
		if r.Action != "publish" && r.Action != "subscribe" && r.Action != "all" && r.Action != "retain" {
			ps.add(path+".action", "%q is not an action: want publish, subscribe, all or retain", r.Action)
		}
		if r.Topic == "" {
			ps.add(path+".topic", "is required (use # for every topic)")
		} else if strings.HasPrefix(r.Topic, mqtt.SharePrefix) {
			ps.add(path+".topic", "%q is a shared subscription: rules apply to the topic filter after $share/{group}/", r.Topic)
		} else if err := mqtt.ValidTopicFilter(strings.NewReplacer("%u", "u", "%c", "c").Replace(r.Topic)); err != nil {
			ps.add(path+".topic", "%q is not a valid topic filter: %v", r.Topic, err)
		}
	}
}

// minSysInterval is the shortest sys.interval above 0.
const minSysInterval = 100 * time.Millisecond

func (c *Config) validateSys(ps *problems) {
	if d := c.Sys.Interval; d < 0 || (d > 0 && d < minSysInterval) {
		ps.add("sys.interval", "%s must be 0 (disabled) or at least %s", d, minSysInterval)
	}
}

func (c *Config) validateListeners(ps *problems) {
	if len(c.Listeners) == 0 {
		ps.add("listeners", "at least one listener is required")
	}
	seen := map[string]int{}
	for i, l := range c.Listeners {
		path := fmt.Sprintf("listeners[%d]", i)
		if l.Name == "" {
			ps.add(path+".name", "is required")
		} else if first, dup := seen[l.Name]; dup {
			ps.add(path+".name", "%q is already used by listeners[%d]", l.Name, first)
		} else {
			seen[l.Name] = i
		}

		switch l.Type {
		case "tcp", "tls", "ws", "wss":
		case "":
			ps.add(path+".type", "is required: tcp, tls, ws or wss")
		default:
			ps.add(path+".type", "%q is not a listener type: want tcp, tls, ws or wss", l.Type)
		}
		c.validateTransport(ps, path, l)

		host, port, err := net.SplitHostPort(l.Address)
		var addrErr *net.AddrError
		switch {
		case errors.As(err, &addrErr):
			ps.add(path+".address", "%q is not host:port: %s", l.Address, addrErr.Err)
		case err != nil:
			ps.add(path+".address", "%q is not host:port: %v", l.Address, err)
		case !validPort(port):
			ps.add(path+".address", "%q: port %q is not a number from 0 to 65535", l.Address, port)
		case l.AllowAnonymous == nil && !isLoopback(host) && len(c.Auth.Users) == 0 && !c.hasBackends(l):
			where := l.Address
			if host == "" {
				where += " (every interface)"
			}
			ps.add(path, "%q binds %s, which is not loopback, and has no authentication: "+
				"set allow_anonymous: true to allow anonymous clients there explicitly, or configure auth.users",
				l.Name, where)
		}

		if l.Profile != "" {
			if _, ok := c.Profiles[l.Profile]; !ok {
				ps.add(path+".profile", "%q is not defined under profiles%s", l.Profile, c.profileList())
			}
		}
		if l.MaxConnections < 0 {
			ps.add(path+".max_connections", "%d must not be negative (0 means no limit)", l.MaxConnections)
		}
	}
}

// validateTransport checks a listener's tls, websocket, proxy_protocol
// and trusted_proxies keys.
func (c *Config) validateTransport(ps *problems, path string, l Listener) {
	secure := l.Type == "tls" || l.Type == "wss"
	web := l.Type == "ws" || l.Type == "wss"
	switch {
	case secure && l.TLS == "":
		ps.add(path+".tls", "is required for a %s listener: name an entry of the top-level tls map%s", l.Type, c.tlsList())
	case secure:
		if _, ok := c.TLS[l.TLS]; !ok {
			ps.add(path+".tls", "%q is not defined under tls%s", l.TLS, c.tlsList())
		}
	case l.TLS != "" && l.Type != "":
		ps.add(path+".tls", "only tls and wss listeners use certificates, not %s", l.Type)
	}
	ws := l.WebSocket
	if !web && (ws.Path != "" || len(ws.Subprotocols) > 0 || ws.RequireSubprotocol || ws.CheckOrigin != nil ||
		len(ws.AllowedOrigins) > 0 || len(ws.ServerNames) > 0 || ws.Compression || ws.Page) && l.Type != "" {
		ps.add(path+".websocket", "only ws and wss listeners take websocket settings, not %s", l.Type)
	}
	if ws.Path != "" && (!strings.HasPrefix(ws.Path, "/") || ws.Path == "/") {
		ps.add(path+".websocket.path", "%q must start with / and not be / itself", ws.Path)
	}
	for i, sp := range ws.Subprotocols {
		if sp == "" || strings.ContainsAny(sp, " ,;\t\"") {
			ps.add(fmt.Sprintf("%s.websocket.subprotocols[%d]", path, i), "%q is not a subprotocol token", sp)
		}
	}
	for i, o := range ws.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			ps.add(fmt.Sprintf("%s.websocket.allowed_origins[%d]", path, i), "%q is not an origin: want scheme://host[:port], e.g. https://app.example.com", o)
		}
	}
	for i, n := range ws.ServerNames {
		if !validServerName(n) {
			ps.add(fmt.Sprintf("%s.websocket.server_names[%d]", path, i), "%q is not a host name or address: want e.g. mqtt.example.com or 192.0.2.7, without scheme or port", n)
		}
	}
	for i, cidr := range l.ProxyProtocol.Trusted {
		if _, err := ParsePrefix(cidr); err != nil {
			ps.add(fmt.Sprintf("%s.proxy_protocol.trusted[%d]", path, i), "%v", err)
		}
	}
	if l.ProxyProtocol.HeaderTimeout < 0 {
		ps.add(path+".proxy_protocol.header_timeout", "%s must not be negative", l.ProxyProtocol.HeaderTimeout)
	}
	if len(l.TrustedProxies) > 0 && !web && l.Type != "" {
		ps.add(path+".trusted_proxies", "only ws and wss listeners read X-Forwarded-For, not %s: use proxy_protocol", l.Type)
	}
	for i, cidr := range l.TrustedProxies {
		if _, err := ParsePrefix(cidr); err != nil {
			ps.add(fmt.Sprintf("%s.trusted_proxies[%d]", path, i), "%v", err)
		}
	}
	switch strings.ToLower(l.TrustedProxyHeader) {
	case "", "x-forwarded-for", "forwarded":
		if l.TrustedProxyHeader != "" && !web && l.Type != "" {
			ps.add(path+".trusted_proxy_header", "only ws and wss listeners read proxy headers, not %s", l.Type)
		}
	default:
		ps.add(path+".trusted_proxy_header", "%q is not a header: want x-forwarded-for or forwarded", l.TrustedProxyHeader)
	}
}

// validServerName reports whether s is a DNS name or an IP address (IPv6
// with or without brackets), with no scheme, port, path or wildcard.
func validServerName(s string) bool {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Zone() == ""
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ParsePrefix parses a CIDR ("10.0.0.0/8", "2001:db8::/32") or a single
// address (a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
}

// tlsList names the defined tls sources for an error message.
func (c *Config) tlsList() string {
	if len(c.TLS) == 0 {
		return " (none are defined)"
	}
	names := make([]string, 0, len(c.TLS))
	for name := range c.TLS {
		names = append(names, name)
	}
	sort.Strings(names)
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// validPort reports whether port is a decimal port number; 0 asks the
// system for a free one.
func validPort(port string) bool {
	_, err := strconv.ParseUint(port, 10, 16)
	return err == nil
}

// profileList names the defined profiles for an error message.
func (c *Config) profileList() string {
	if len(c.Profiles) == 0 {
		return " (none are defined)"
	}
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return " (defined: " + strings.Join(names, ", ") + ")"
}
