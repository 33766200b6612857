package configs

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const testHash = "$2a$10$Bda/bkmatfHP2OQaIELnVuc3aYPTQcofV3vNUBvMlUVagSbBFwfke"

func TestBadValuesRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"log level", "log:\n  level: verbose\n",
			[]string{`test.yaml:2: log.level: "verbose" is not a level`}},
		{"log format", "log:\n  format: xml\n",
			[]string{`test.yaml:2: log.format: "xml" is not a format: want console or json`}},
		{"data dir", "data_dir: \"\"\n",
			[]string{"test.yaml:1: data_dir: is required"}},
		{"packet size small", "mqtt:\n  max_packet_size: 15\n",
			[]string{"test.yaml:2: mqtt.max_packet_size: 15 is out of range: must be from 16 to 268435460"}},
		{"packet size large", "mqtt:\n  max_packet_size: 268435461\n",
			[]string{"mqtt.max_packet_size: 268435461 is out of range"}},
		{"receive maximum", "mqtt:\n  receive_maximum: 0\n",
			[]string{"test.yaml:2: mqtt.receive_maximum: must be at least 1"}},
		{"max inflight", "mqtt:\n  max_inflight: 0\n",
			[]string{"mqtt.max_inflight: must be at least 1"}},
		{"maximum qos", "mqtt:\n  maximum_qos: 3\n",
			[]string{"mqtt.maximum_qos: 3 is not a QoS: want 0, 1 or 2"}},
		{"session expiry", "mqtt:\n  max_session_expiry: -1s\n",
			[]string{"mqtt.max_session_expiry: -1s must not be negative"}},
		{"keep alive min above max", "mqtt:\n  keep_alive:\n    min: 2m\n    max: 1m\n",
			[]string{"test.yaml:3: mqtt.keep_alive.min: 2m0s is above the maximum keep alive 1m0s"}},
		{"keep alive too long", "mqtt:\n  keep_alive:\n    max: 19h\n",
			[]string{"mqtt.keep_alive.max: 19h0m0s is above the MQTT maximum keep alive"}},
		{"keep alive negative", "mqtt:\n  keep_alive:\n    min: -1s\n",
			[]string{"mqtt.keep_alive.min: -1s must not be negative"}},
		{"client id length", "mqtt:\n  client_id:\n    max_length: 0\n",
			[]string{"test.yaml:3: mqtt.client_id.max_length: 0 is out of range: must be from 1 to 65535"}},
		{"client id length large", "mqtt:\n  client_id:\n    max_length: 65536\n",
			[]string{"mqtt.client_id.max_length: 65536 is out of range"}},
		{"client id v31 length", "mqtt:\n  client_id:\n    max_length_v31: 0\n",
			[]string{"mqtt.client_id.max_length_v31: 0 is out of range"}},
		{"client id pattern", "mqtt:\n  client_id:\n    pattern: '[a-'\n",
			[]string{"mqtt.client_id.pattern: is not a valid regular expression"}},
		{"connect timeout", "mqtt:\n  connect_timeout: 0s\n",
			[]string{"mqtt.connect_timeout: 0s must be above 0"}},
		{"offline messages", "session:\n  max_offline_messages: -1\n",
			[]string{"session.max_offline_messages: -1 must not be negative"}},
		{"outbound queue", "session:\n  max_outbound_queue: 0\n",
			[]string{"session.max_outbound_queue: 0 must be at least 1"}},
		{"shared subscription strategy", "session:\n  shared_subscription_strategy: least_busy\n",
			[]string{`test.yaml:2: session.shared_subscription_strategy: "least_busy" is not a strategy: want round_robin or random`}},
		{"session owner binding", "session:\n  owner_binding: loose\n",
			[]string{`test.yaml:2: session.owner_binding: "loose" is not a binding: want strict or any`}},
		{"shutdown timeout", "shutdown_timeout: 0s\n",
			[]string{"shutdown_timeout: 0s must be above 0"}},
		{"drain period", "drain:\n  period: -1s\n",
			[]string{"drain.period: -1s must not be negative"}},
		{"no listeners", "listeners: []\n",
			[]string{"test.yaml:1: listeners: at least one listener is required"}},
		{"listener name", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1883\n",
			[]string{"test.yaml:2: listeners[0].name: is required"}},
		{"listener name duplicate", listeners("{name: a, type: tcp, address: '127.0.0.1:1'}", "{name: a, type: tcp, address: '127.0.0.1:2'}"),
			[]string{`test.yaml:3: listeners[1].name: "a" is already used by listeners[0]`}},
		{"listener type missing", listeners("{name: a, address: '127.0.0.1:1'}"),
			[]string{"listeners[0].type: is required: tcp"}},
		{"tls listener without tls", listeners("{name: a, type: tls, address: '127.0.0.1:8883'}"),
			[]string{`test.yaml:2: listeners[0].tls: is required for a tls listener: name an entry of the top-level tls map (defined: dev)`}},
		{"wss listener with unknown tls", listeners("{name: a, type: wss, address: '127.0.0.1:443', tls: nope}"),
			[]string{`listeners[0].tls: "nope" is not defined under tls (defined: dev)`}},
		{"tcp listener with tls", listeners("{name: a, type: tcp, address: '127.0.0.1:1883', tls: dev}"),
			[]string{`listeners[0].tls: only tls and wss listeners use certificates, not tcp`}},
		{"tcp listener with websocket", listeners("{name: a, type: tcp, address: '127.0.0.1:1883', websocket: {page: true}}"),
			[]string{`listeners[0].websocket: only ws and wss listeners take websocket settings, not tcp`}},
		{"websocket path", listeners("{name: a, type: ws, address: '127.0.0.1:80', websocket: {path: mqtt}}"),
			[]string{`listeners[0].websocket.path: "mqtt" must start with /`}},
		{"websocket subprotocol", listeners("{name: a, type: ws, address: '127.0.0.1:80', websocket: {subprotocols: ['mqtt, x']}}"),
			[]string{`listeners[0].websocket.subprotocols[0]: "mqtt, x" is not a subprotocol token`}},
		{"websocket origin", listeners("{name: a, type: ws, address: '127.0.0.1:80', websocket: {allowed_origins: [app.example.com]}}"),
			[]string{`listeners[0].websocket.allowed_origins[0]: "app.example.com" is not an origin`}},
		{"proxy cidr", listeners("{name: a, type: tcp, address: '127.0.0.1:1', proxy_protocol: {trusted: [10.0.0.0/33]}}"),
			[]string{`listeners[0].proxy_protocol.trusted[0]: "10.0.0.0/33" is not an address or CIDR`}},
		{"proxy header timeout", listeners("{name: a, type: tcp, address: '127.0.0.1:1', proxy_protocol: {header_timeout: -1s}}"),
			[]string{`listeners[0].proxy_protocol.header_timeout: -1s must not be negative`}},
		{"trusted proxies on tcp", listeners("{name: a, type: tcp, address: '127.0.0.1:1', trusted_proxies: [10.0.0.1]}"),
			[]string{`listeners[0].trusted_proxies: only ws and wss listeners read X-Forwarded-For, not tcp`}},
		{"trusted proxies cidr", listeners("{name: a, type: ws, address: '127.0.0.1:1', trusted_proxies: [nope]}"),
			[]string{`listeners[0].trusted_proxies[0]: "nope" is not an address or CIDR`}},
		{"listener type unknown", listeners("{name: a, type: udp, address: '127.0.0.1:1'}"),
			[]string{`listeners[0].type: "udp" is not a listener type: want tcp, tls, ws or wss`}},
		{"listener address no port", listeners("{name: a, type: tcp, address: localhost}"),
			[]string{`listeners[0].address: "localhost" is not host:port: missing port in address`}},
		{"listener address empty", listeners("{name: a, type: tcp}"),
			[]string{`test.yaml:2: listeners[0].address: "" is not host:port`}},
		{"listener address bad port", listeners("{name: a, type: tcp, address: '127.0.0.1:99999'}"),
			[]string{`listeners[0].address: "127.0.0.1:99999": port "99999" is not a number from 0 to 65535`}},
		{"listener profile", listeners("{name: a, type: tcp, address: '127.0.0.1:1', profile: web}"),
			[]string{`listeners[0].profile: "web" is not defined under profiles (none are defined)`}},
		{"listener profile typo", "profiles:\n  web: {}\n  mobile: {}\n" + listeners("{name: a, type: tcp, address: '127.0.0.1:1', profile: wbe}"),
			[]string{`listeners[0].profile: "wbe" is not defined under profiles (defined: mobile, web)`}},
		{"listener max connections", listeners("{name: a, type: tcp, address: '127.0.0.1:1', max_connections: -1}"),
			[]string{"listeners[0].max_connections: -1 must not be negative"}},
		{"user name", "auth:\n  users:\n    - password_hash: " + testHash + "\n",
			[]string{"test.yaml:3: auth.users[0].username: is required"}},
		{"user duplicate", "auth:\n  users:\n    - {username: a, password_hash: " + testHash + "}\n    - {username: a, password_hash: " + testHash + "}\n",
			[]string{`test.yaml:4: auth.users[1].username: "a" is already used by auth.users[0]`}},
		{"user hash missing", "auth:\n  users:\n    - username: a\n",
			[]string{"auth.users[0].password_hash: is required"}},
		{"user plain password", "auth:\n  users:\n    - username: a\n      password_hash: hunter2\n",
			[]string{"test.yaml:4: auth.users[0].password_hash: is not a bcrypt hash: it must start with $2a$, $2b$ or $2y$"}},
		{"user truncated hash", "auth:\n  users:\n    - username: a\n      password_hash: $2a$10$abc\n",
			[]string{"auth.users[0].password_hash: is not a valid bcrypt hash"}},
		{"user bad cost", "auth:\n  users:\n    - username: a\n      password_hash: $2a$99" + testHash[6:] + "\n",
			[]string{"auth.users[0].password_hash: is not a valid bcrypt hash"}},
		{"acl default", "acl:\n  default: maybe\n",
			[]string{`test.yaml:2: acl.default: "maybe" is not a permission: want allow or deny`}},
		{"acl rule", "acl:\n  rules:\n    - {permission: permit, action: read}\n",
			[]string{
				`acl.rules[0].permission: "permit" is not a permission`,
				`acl.rules[0].action: "read" is not an action: want publish, subscribe, all or retain`,
				"acl.rules[0].topic: is required",
			}},
		{"profile value", "profiles:\n  browser:\n    receive_maximum: 0\n",
			[]string{"test.yaml:3: profiles.browser.receive_maximum: must be at least 1"}},
		{"profile flat key", "profiles:\n  browser:\n    keep_alive_max: 19h\n",
			[]string{"test.yaml:3: profiles.browser.keep_alive_max: 19h0m0s is above the MQTT maximum keep alive"}},
		{"profile combined with mqtt", "mqtt:\n  keep_alive:\n    min: 1m\nprofiles:\n  browser:\n    keep_alive_max: 30s\n",
			[]string{"profiles.browser.keep_alive_min: 1m0s is above the maximum keep alive 30s"}},
		{"profile empty name", "profiles:\n  \"\":\n    receive_maximum: 1\n",
			[]string{"profiles: a profile name must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

// listeners returns a file with the given flow-style listener entries.
func listeners(entries ...string) string {
	var b strings.Builder
	b.WriteString("listeners:\n")
	for _, e := range entries {
		b.WriteString("  - " + e + "\n")
	}
	return b.String()
}

// A password hash is never echoed in an error: it might be a password.
func TestPasswordNotEchoed(t *testing.T) {
	msg := parseErr(t, "auth:\n  users:\n    - username: a\n      password_hash: hunter2\n")
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error %q echoes the password", msg)
	}
}

// A problem of the mqtt section is reported once, not again for every
// profile that inherits it.
func TestProfileInheritedProblemReportedOnce(t *testing.T) {
	_, err := Parse("test.yaml", []byte("mqtt:\n  receive_maximum: 0\nprofiles:\n  browser:\n    max_inflight: 1\n"))
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Path != "mqtt.receive_maximum" {
		t.Errorf("problems = %v, want only mqtt.receive_maximum", ps)
	}
	// A profile that fixes the mqtt problem is valid itself.
	_, err = Parse("test.yaml", []byte("mqtt:\n  receive_maximum: 0\nprofiles:\n  browser:\n    receive_maximum: 5\n"))
	ps = problemsOf(t, err)
	if len(ps) != 1 || ps[0].Path != "mqtt.receive_maximum" {
		t.Errorf("problems = %v, want only mqtt.receive_maximum", ps)
	}
}

func TestAnonymous(t *testing.T) {
	const refused = "which is not loopback, and has no authentication: " +
		"set allow_anonymous: true to allow anonymous clients there explicitly, or configure auth.users"
	tests := []struct {
		name    string
		address string
		allow   *bool
		users   bool
		// err is a substring of the expected error; empty means valid.
		err  string
		anon bool
	}{
		{name: "ipv4 loopback", address: "127.0.0.1:1883", anon: true},
		{name: "other 127/8", address: "127.1.2.3:1883", anon: true},
		{name: "ipv6 loopback", address: "[::1]:1883", anon: true},
		{name: "mapped loopback", address: "[::ffff:127.0.0.1]:1883", anon: true},
		{name: "localhost", address: "localhost:1883", anon: true},
		{name: "LOCALHOST", address: "LOCALHOST:1883", anon: true},
		{name: "loopback explicit deny", address: "127.0.0.1:1883", allow: ptr(false), users: true, anon: false},
		{name: "any ipv4", address: "0.0.0.0:1883", err: `listeners[0]: "l" binds 0.0.0.0:1883, ` + refused},
		{name: "empty host", address: ":1883", err: `listeners[0]: "l" binds :1883 (every interface), ` + refused},
		{name: "any ipv6", address: "[::]:1883", err: `binds [::]:1883, ` + refused},
		{name: "lan address", address: "192.168.1.10:1883", err: refused},
		{name: "host name", address: "broker.example.com:1883", err: refused},
		{name: "any explicit allow", address: "0.0.0.0:1883", allow: ptr(true), anon: true},
		{name: "any explicit deny", address: "0.0.0.0:1883", allow: ptr(false), users: true, anon: false},
		{name: "any with users", address: "0.0.0.0:1883", users: true, anon: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults()
			l := Listener{Name: "l", Type: "tcp", Address: tt.address, AllowAnonymous: tt.allow}
			cfg.Listeners = []Listener{l}
			if tt.users {
				cfg.Auth.Users = []User{{Username: "u", PasswordHash: testHash}}
			}
			err := cfg.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.err != "" && err == nil:
				t.Fatalf("Validate succeeded, want %q", tt.err)
			case tt.err != "":
				wantContains(t, err.Error(), tt.err)
				return
			}
			if got := l.Anonymous(); got != tt.anon {
				t.Errorf("Anonymous() = %v, want %v", got, tt.anon)
			}
		})
	}
}

func TestAnonymousFromFile(t *testing.T) {
	msg := parseErr(t, listeners("{name: tcp, type: tcp, address: '0.0.0.0:1883'}"))
	wantContains(t, msg, `test.yaml:2: listeners[0]: "tcp" binds 0.0.0.0:1883, which is not loopback`)

	cfg := parse(t, listeners("{name: tcp, type: tcp, address: '0.0.0.0:1883', allow_anonymous: true}"))
	if !cfg.Listeners[0].Anonymous() {
		t.Error("explicit allow_anonymous: true not honoured")
	}
}

func TestProfileOverride(t *testing.T) {
	cfg := parse(t, `
mqtt:
  keep_alive:
    min: 5s
profiles:
  browser:
    receive_maximum: 16
    max_packet_size: 65536
    keep_alive_max: 1m
    client_id_max_length: 23
listeners:
  - {name: tcp, type: tcp, address: "127.0.0.1:1883"}
  - {name: web, type: tcp, address: "127.0.0.1:1884", profile: browser}
`)
	want := cfg.MQTT
	want.ReceiveMaximum = 16
	want.MaxPacketSize = 65536
	want.KeepAlive = KeepAlive{Min: 5 * time.Second, Max: time.Minute}
	want.ClientID.MaxLength = 23
	if got := cfg.LimitsFor(cfg.Listeners[1]); !reflect.DeepEqual(got, want) {
		t.Errorf("LimitsFor(web) =\n%#v\nwant\n%#v", got, want)
	}
	if got := cfg.LimitsFor(cfg.Listeners[0]); !reflect.DeepEqual(got, cfg.MQTT) {
		t.Errorf("LimitsFor(tcp) = %#v, want the mqtt section", got)
	}
	if cfg.MQTT.ReceiveMaximum != 1024 {
		t.Errorf("applying a profile changed mqtt.receive_maximum to %d", cfg.MQTT.ReceiveMaximum)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	cfg := defaults()
	cfg.MQTT.ReceiveMaximum = 0
	cfg.Listeners[0].Address = "nowhere"
	err := cfg.Validate()
	ps := problemsOf(t, err)
	if len(ps) != 2 {
		t.Fatalf("got %d problems, want 2: %v", len(ps), err)
	}
	want := "invalid configuration: 2 problems:\n" +
		"\tmqtt.receive_maximum: must be at least 1\n" +
		"\tlisteners[0].address: \"nowhere\" is not host:port: missing port in address"
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
	for _, p := range ps {
		if p.Line != 0 {
			t.Errorf("problem %v has line %d without a file", p, p.Line)
		}
	}
}
