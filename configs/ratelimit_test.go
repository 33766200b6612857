package configs

import (
	"testing"
	"time"
)

func TestRateLimitAndOverloadValidated(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"negative message rate", "mqtt:\n  publish_rate:\n    messages_per_second: -1\n",
			[]string{"test.yaml:3: mqtt.publish_rate.messages_per_second: -1 must not be negative"}},
		{"negative bytes burst", "mqtt:\n  publish_rate:\n    bytes_burst: -2\n",
			[]string{"mqtt.publish_rate.bytes_burst: -2 must not be negative"}},
		{"negative messages burst", "mqtt:\n  publish_rate:\n    messages_burst: -2\n",
			[]string{"mqtt.publish_rate.messages_burst: -2 must not be negative"}},
		{"negative byte rate", "mqtt:\n  publish_rate:\n    bytes_per_second: -5\n",
			[]string{"mqtt.publish_rate.bytes_per_second: -5 must not be negative"}},
		{"bad action", "mqtt:\n  publish_rate:\n    action: drop\n",
			[]string{`mqtt.publish_rate.action: "drop" is not an action: want backpressure or disconnect`}},
		{"in a profile", "profiles:\n  p:\n    publish_rate:\n      messages_per_second: -1\n",
			[]string{"profiles.p.publish_rate.messages_per_second: -1 must not be negative"}},
		{"negative memory", "overload:\n  memory_high_water: -1\n",
			[]string{"overload.memory_high_water: -1 must not be negative"}},
		{"negative goroutines", "overload:\n  goroutine_high_water: -1\n",
			[]string{"overload.goroutine_high_water: -1 must not be negative"}},
		{"interval too short", "overload:\n  check_interval: 1ms\n",
			[]string{"overload.check_interval: 1ms must be 0 (off) or at least 10ms"}},
		{"listener per ip", "listeners:\n  - name: a\n    type: tcp\n    address: 127.0.0.1:1\n    limits:\n      per_ip_connections: -1\n",
			[]string{"listeners[0].limits.per_ip_connections: -1 must not be negative"}},
		{"listener rate without burst", "listeners:\n  - name: a\n    type: tcp\n    address: 127.0.0.1:1\n    limits:\n      rate:\n        per_ip: 5\n",
			[]string{"listeners[0].limits.rate.per_ip_burst: 0 must be at least 1 when rate.per_ip is set"}},
		{"listener negative rate", "listeners:\n  - name: a\n    type: tcp\n    address: 127.0.0.1:1\n    limits:\n      rate:\n        per_ip: -5\n",
			[]string{"listeners[0].limits.rate.per_ip: -5 must not be negative"}},
		{"jwt rate limit claim is a string", "auth:\n  backends:\n    j:\n      type: jwt\n      jwt:\n        rate_limit_claim: [x]\n",
			[]string{"auth.backends.j.jwt.rate_limit_claim"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

func TestRateLimitAndOverloadDefaults(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if want := (PublishRate{Action: RateBackpressure}); cfg.MQTT.PublishRate != want {
		t.Errorf("default publish_rate = %+v, want %+v", cfg.MQTT.PublishRate, want)
	}
	if cfg.MQTT.PublishRate.Enabled() {
		t.Error("publish_rate is on by default")
	}
	if cfg.Overload != (Overload{}) || cfg.Overload.Enabled() {
		t.Errorf("default overload = %+v, want off", cfg.Overload)
	}
	for _, l := range cfg.Listeners {
		if l.Limits != nil {
			t.Errorf("listener %q has limits %+v by default", l.Name, *l.Limits)
		}
	}
}

func TestRateLimitSettings(t *testing.T) {
	cfg := parse(t, `
mqtt:
  publish_rate:
    messages_per_second: 100
    bytes_per_second: 65536
profiles:
  iot:
    publish_rate:
      messages_per_second: 20
      messages_burst: 5
      action: disconnect
limits:
  per_ip_connections: 50
  rate:
    per_ip: 10
    per_ip_burst: 20
overload:
  memory_high_water: 1073741824
  goroutine_high_water: 200000
  check_interval: 1s
listeners:
  - name: default
    type: tcp
    address: 127.0.0.1:1883
  - name: iot
    type: tcp
    address: 127.0.0.1:1884
    profile: iot
    limits:
      per_ip_connections: 2
  - name: paced
    type: tcp
    address: 127.0.0.1:1885
    limits:
      rate: {per_ip: 1, per_ip_burst: 3}
`)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"default profile", cfg.LimitsFor(cfg.Listeners[0]).PublishRate,
			PublishRate{MessagesPerSecond: 100, BytesPerSecond: 65536, Action: RateBackpressure}},
		{"profile replaces whole", cfg.LimitsFor(cfg.Listeners[1]).PublishRate,
			PublishRate{MessagesPerSecond: 20, MessagesBurst: 5, Action: RateDisconnect}},
		{"overload", cfg.Overload, Overload{MemoryHighWater: 1 << 30, GoroutineHighWater: 200000, CheckInterval: time.Second}},
		{"admission unchanged", cfg.AdmissionFor(cfg.Listeners[0]), cfg.Limits},
		{"per ip connections", cfg.AdmissionFor(cfg.Listeners[1]).PerIPConnections, 2},
		{"per ip rate kept", cfg.AdmissionFor(cfg.Listeners[1]).Rate, cfg.Limits.Rate},
		{"per ip rate", cfg.AdmissionFor(cfg.Listeners[2]).Rate, AdmissionRate{PerIP: 1, PerIPBurst: 3, Global: cfg.Limits.Rate.Global, GlobalBurst: cfg.Limits.Rate.GlobalBurst}},
		{"per ip connections kept", cfg.AdmissionFor(cfg.Listeners[2]).PerIPConnections, 50},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	if !cfg.Overload.Enabled() {
		t.Error("overload with marks and an interval is not enabled")
	}
}
