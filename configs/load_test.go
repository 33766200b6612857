package configs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestDefaultLoadsAndValidates(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "console"},
		{"data_dir", cfg.DataDir, "./data"},
		{"mqtt.max_packet_size", cfg.MQTT.MaxPacketSize, uint32(1048576)},
		{"mqtt.receive_maximum", cfg.MQTT.ReceiveMaximum, uint16(1024)},
		{"mqtt.max_inflight", cfg.MQTT.MaxInflight, uint16(32)},
		{"mqtt.topic_alias_maximum", cfg.MQTT.TopicAliasMaximum, uint16(64)},
		{"mqtt.maximum_qos", cfg.MQTT.MaximumQoS, byte(2)},
		{"mqtt.retain_available", cfg.MQTT.RetainAvailable, true},
		{"mqtt.wildcard_subscription_available", cfg.MQTT.WildcardSubscriptionAvailable, true},
		{"mqtt.subscription_identifiers_available", cfg.MQTT.SubscriptionIdentifiersAvailable, true},
		{"mqtt.shared_subscription_available", cfg.MQTT.SharedSubscriptionAvailable, true},
		{"mqtt.max_session_expiry", cfg.MQTT.MaxSessionExpiry, 24 * time.Hour},
		{"mqtt.keep_alive", cfg.MQTT.KeepAlive, KeepAlive{}},
		{"mqtt.client_id", cfg.MQTT.ClientID, ClientID{MaxLength: 256, MaxLengthV31: 23, AssignedPrefix: "edgemq-"}},
		{"mqtt.connect_timeout", cfg.MQTT.ConnectTimeout, 10 * time.Second},
		{"profiles", len(cfg.Profiles), 0},
		{"session", cfg.Session, Session{MaxOfflineMessages: 1000, MaxOfflineBytes: 16 << 20, MaxOutboundQueue: 1000, MaxOutboundBytes: 8 << 20, SharedSubscriptionStrategy: "round_robin", MaxSubscriptions: 10000, MaxSubscriptionBytes: 1 << 20, OwnerBinding: "strict"}},
		{"retained", cfg.Retained, Retained{MaxMessages: 1000000, MaxBytes: 1 << 30}},
		{"auth.users", len(cfg.Auth.Users), 0},
		{"acl", cfg.ACL, ACL{Default: "allow", ReloadInterval: 5 * time.Second}},
		{"listeners", cfg.Listeners, []Listener{
			{Name: "tcp", Type: "tcp", Address: "127.0.0.1:1883", ProxyProtocol: ProxyProtocol{Trusted: []string{}, HeaderTimeout: 5 * time.Second}},
			{Name: "tls", Type: "tls", Address: "127.0.0.1:8883", TLS: "dev"},
			{Name: "ws", Type: "ws", Address: "127.0.0.1:8083", TrustedProxies: []string{}, TrustedProxyHeader: "x-forwarded-for", WebSocket: WebSocket{
				Path: "/mqtt", Subprotocols: []string{"mqtt", "mqttv3.1"}, CheckOrigin: ptr(true), AllowedOrigins: []string{}, ServerNames: []string{}, Page: true}},
			{Name: "wss", Type: "wss", Address: "127.0.0.1:8084", TLS: "dev", WebSocket: WebSocket{Page: true}},
		}},
		{"shutdown_timeout", cfg.ShutdownTimeout, 10 * time.Second},
		{"drain", cfg.Drain, Drain{Period: 10 * time.Second}},
		{"listeners[0] anonymous", cfg.Listeners[0].Anonymous(), true},
		{"listeners[0] limits", cfg.LimitsFor(cfg.Listeners[0]), cfg.MQTT},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

// The example file, the embedded default and the built-in defaults used
// for keys a file omits must all be the same configuration.
func TestExampleIsDefault(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	example, err := Load("edgemq.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	raw, err := os.ReadFile("edgemq.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *Config
	}{
		{"example file", example},
		{"built-in defaults", defaults()},
		{"empty file", parse(t, "")},
		{"comment-only file", parse(t, "# nothing\n")},
		{"empty mapping", parse(t, "{}\n")},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.cfg, def) {
			t.Errorf("%s:\n%#v\ndiffers from the embedded default:\n%#v", tt.name, tt.cfg, def)
		}
	}
	if string(raw) != defaultYAML {
		t.Error("configs/edgemq.yaml differs from the embedded default")
	}
}

// Every key of every config type must be documented in edgemq.yaml,
// set or in a comment.
func TestEveryKeyDocumented(t *testing.T) {
	var keys []string
	var collect func(reflect.Type, string)
	collect = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Duration]() {
			return
		}
		for name, ft := range yamlFields(typ) {
			keys = append(keys, join(path, name))
			collect(ft, join(path, name))
		}
	}
	collect(reflect.TypeFor[Config](), "")
	if len(keys) < 50 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	for _, key := range keys {
		leaf := key[strings.LastIndex(key, ".")+1:]
		re := regexp.MustCompile(`(?m)^[ #]*(- )?` + regexp.QuoteMeta(leaf) + `:`)
		if !re.MatchString(defaultYAML) {
			t.Errorf("key %s (%s:) is not documented in edgemq.yaml", key, leaf)
		}
	}
}

// The commented example user must carry a working hash of "secret".
func TestExampleUserHash(t *testing.T) {
	m := regexp.MustCompile(`(?m)^\s*#\s*password_hash:\s*(\S+)$`).FindStringSubmatch(defaultYAML)
	if m == nil {
		t.Fatal("no commented password_hash example in edgemq.yaml")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(m[1]), []byte("secret")); err != nil {
		t.Errorf("example hash %s does not match \"secret\": %v", m[1], err)
	}
	parse(t, "auth:\n  users:\n    - username: sensor\n      password_hash: "+m[1]+"\n")
}

// testdata/full.yaml sets every key, including the commented-out
// sections of edgemq.yaml.
func TestFullFile(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := len(cfg.Listeners); got != 2 {
		t.Fatalf("got %d listeners, want 2", got)
	}
	public := cfg.Listeners[1]
	if public.Anonymous() {
		t.Error("public listener allows anonymous clients")
	}
	lim := cfg.LimitsFor(public)
	want := cfg.MQTT
	want.MaxPacketSize = 65536
	want.ReceiveMaximum = 64
	want.MaxInflight = 16
	want.TopicAliasMaximum = 16
	want.MaximumQoS = 0
	want.RetainAvailable = false
	want.WildcardSubscriptionAvailable = false
	want.SubscriptionIdentifiersAvailable = false
	want.SharedSubscriptionAvailable = true
	want.MaxSessionExpiry = time.Hour
	want.KeepAlive = KeepAlive{Min: 10 * time.Second, Max: 5 * time.Minute}
	want.ClientID.MaxLength = 64
	want.ConnectTimeout = 5 * time.Second
	want.ResponseInformation = "browser/"
	want.Redirect = Redirect{Server: "other.example.com:1883", Permanent: true}
	if !reflect.DeepEqual(lim, want) {
		t.Errorf("LimitsFor(public) =\n%#v\nwant\n%#v", lim, want)
	}
	if got := cfg.LimitsFor(cfg.Listeners[0]); !reflect.DeepEqual(got, cfg.MQTT) {
		t.Errorf("LimitsFor(local) = %#v, want mqtt %#v", got, cfg.MQTT)
	}
	if got := cfg.Session; got != (Session{MaxOfflineMessages: 0, MaxOfflineBytes: 4096, MaxOutboundQueue: 50, MaxOutboundBytes: 65536, SharedSubscriptionStrategy: "random", MaxSubscriptions: 10000, MaxSubscriptionBytes: 1 << 20, OwnerBinding: "strict"}) {
		t.Errorf("session = %#v", got)
	}
	if cfg.MQTT.SharedSubscriptionAvailable {
		t.Error("mqtt.shared_subscription_available = true, want false")
	}
	if got := cfg.ACL.Rules[0]; got != (ACLRule{Permission: "allow", Action: "all", Topic: "devices/%u/#", Username: "sensor", ClientID: "sensor-1"}) {
		t.Errorf("acl.rules[0] = %#v", got)
	}
}

func TestMinimalFile(t *testing.T) {
	cfg := parse(t, `
listeners:
  - name: public
    type: tcp
    address: 0.0.0.0:1883
    allow_anonymous: true
mqtt:
  receive_maximum: 10
  keep_alive:
    max: 2m
`)
	want := defaults()
	want.Listeners = []Listener{{Name: "public", Type: "tcp", Address: "0.0.0.0:1883", AllowAnonymous: ptr(true)}}
	want.MQTT.ReceiveMaximum = 10
	want.MQTT.KeepAlive.Max = 2 * time.Minute
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%#v\nwant\n%#v", cfg, want)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"top level", "lgo:\n  level: info\n",
			[]string{"test.yaml:1: lgo: unknown key; did you mean log?"}},
		{"nested", "mqtt:\n  receive_maximum: 10\n  recieve_maximum: 10\n",
			[]string{"test.yaml:3: mqtt.recieve_maximum: unknown key; did you mean receive_maximum?"}},
		{"deep", "mqtt:\n  keep_alive:\n    minimum: 1s\n",
			[]string{"test.yaml:3: mqtt.keep_alive.minimum: unknown key"}},
		{"in a list", "listeners:\n  - name: a\n    type: tcp\n    adress: 127.0.0.1:1\n",
			[]string{"test.yaml:4: listeners[0].adress: unknown key; did you mean address?"}},
		{"in a profile", "profiles:\n  browser:\n    keep_alive:\n      min: 1s\n",
			[]string{"test.yaml:3: profiles.browser.keep_alive: unknown key"}},
		{"unrelated", "zzzzzzzzzzzz: 1\n",
			[]string{"test.yaml:1: zzzzzzzzzzzz: unknown key; known keys here: acl, admin, auth, cluster, data_dir"}},
		{"duplicate", "log:\n  level: info\n  level: debug\n",
			[]string{"test.yaml:3: log.level: duplicate key (first set on line 2)"}},
		{"several", "a: 1\nb: 2\n",
			[]string{"invalid configuration test.yaml: 2 problems:", "test.yaml:1: a: unknown key", "test.yaml:2: b: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

func TestWrongTypeRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"string for integer", "mqtt:\n  receive_maximum: many\n",
			[]string{`test.yaml:2: mqtt.receive_maximum: "many" is not an integer from 0 to 65535`}},
		{"overflow", "mqtt:\n  max_inflight: 70000\n",
			[]string{`test.yaml:2: mqtt.max_inflight: "70000" is not an integer from 0 to 65535`}},
		{"negative unsigned", "mqtt:\n  max_packet_size: -1\n",
			[]string{`test.yaml:2: mqtt.max_packet_size: "-1" is not an integer from 0 to 4294967295`}},
		{"bare number duration", "shutdown_timeout: 10\n",
			[]string{`test.yaml:1: shutdown_timeout: "10" is not a duration`, "add a unit, e.g. 10s"}},
		{"bad duration", "mqtt:\n  connect_timeout: soon\n",
			[]string{`test.yaml:2: mqtt.connect_timeout: "soon" is not a duration`}},
		{"bad bool", "mqtt:\n  retain_available: maybe\n",
			[]string{`test.yaml:2: mqtt.retain_available: "maybe" is not true or false`}},
		{"scalar for mapping", "mqtt: fast\n",
			[]string{`test.yaml:1: mqtt: expected a mapping (key: value lines), found "fast"`}},
		{"mapping for list", "listeners:\n  name: tcp\n",
			[]string{`test.yaml:2: listeners: expected a list (- item lines), found a mapping`}},
		{"list for scalar", "data_dir: [a, b]\n",
			[]string{`test.yaml:1: data_dir: expected a string, found a list`}},
		{"profile pointer", "profiles:\n  b:\n    maximum_qos: high\n",
			[]string{`test.yaml:3: profiles.b.maximum_qos: "high" is not an integer from 0 to 255`}},
		{"syntax error", "mqtt: [\n",
			[]string{"parsing test.yaml: yaml: line"}},
		{"two documents", "log: {}\n---\nlog: {}\n",
			[]string{"test.yaml:2: more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load: %v, want a not-exist error", err)
	}
	wantContains(t, err.Error(), "reading config: ", "missing.yaml")
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg := parse(t, `
profiles:
  small: &small
    receive_maximum: 8
  smaller:
    <<: *small
    max_packet_size: 1024
  same: *small
`)
	if got := *cfg.Profiles["smaller"].ReceiveMaximum; got != 8 {
		t.Errorf("merged receive_maximum = %d, want 8", got)
	}
	if got := *cfg.Profiles["same"].ReceiveMaximum; got != 8 {
		t.Errorf("aliased receive_maximum = %d, want 8", got)
	}
	msg := parseErr(t, "profiles:\n  a:\n    <<: [{recieve_maximum: 1}]\n")
	wantContains(t, msg, "test.yaml:3: profiles.a.recieve_maximum: unknown key; did you mean receive_maximum?")
}
