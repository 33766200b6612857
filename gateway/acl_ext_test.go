package gateway

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/filewatch"

	"github.com/eclipse/paho.golang/paho"
)

// TestACLRetainAndMaxQoS: the retain action refuses retained publishes
// (0x87) while plain ones pass; max_qos refuses a publish above it (0x87)
// and grants a subscription at most it; %u and %c in the same rule.
func TestACLRetainAndMaxQoS(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "secret")}}
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "retain", Topic: "status/locked/#"},
		{Permission: "allow", Action: "all", Topic: "status/#"},
		{Permission: "allow", Action: "all", Topic: "limited/#", MaxQoS: refOf(1)},
		{Permission: "allow", Action: "all", Topic: "home/%u/%c/#"},
	}}
	ts := startServer(t, cfg)
	c := connectV5(t, ts, withUser(v5Connect("dev-1"), "alice"))

	tests := []struct {
		name   string
		topic  string
		qos    byte
		retain bool
		denied bool
	}{
		{"retained to a retain-denied topic", "status/locked/x", 1, true, true},
		{"plain to a retain-denied topic", "status/locked/x", 1, false, false},
		{"retained elsewhere", "status/open", 1, true, false},
		{"qos 2 above max_qos 1", "limited/a", 2, false, true},
		{"qos 1 at max_qos 1", "limited/a", 1, false, false},
		{"own %u/%c", "home/alice/dev-1/t", 2, false, false},
		{"other client id", "home/alice/dev-2/t", 1, false, true},
		{"other user", "home/bob/dev-1/t", 1, false, true},
	}
	for _, tt := range tests {
		code := c.publishCode(t, &paho.Publish{Topic: tt.topic, QoS: tt.qos, Retain: tt.retain, Payload: []byte("x")})
		if got := code == denied; got != tt.denied {
			t.Errorf("%s: publish to %s qos %d retain %v: reason code %#x, denied %v", tt.name, tt.topic, tt.qos, tt.retain, code, tt.denied)
		}
	}
	// The refused retained message was not stored; the allowed one was.
	sub := connectV5(t, ts, withUser(v5Connect("dev-2"), "alice"))
	sub.subscribe(t, "status/#", 1)
	if m := sub.expectMessage(t); m.Topic != "status/open" {
		t.Errorf("retained message on %q, want status/open only", m.Topic)
	}
	sub.expectNoMessageFor(t, 50*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "limited/#", QoS: 2}, {Topic: "status/#", QoS: 2}, {Topic: "home/alice/dev-1/#", QoS: 0},
	}})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if want := []byte{1, 2, 0}; string(sa.Reasons) != string(want) {
		t.Errorf("SUBACK %v, want %v (limited/# capped at max_qos 1)", sa.Reasons, want)
	}
}

// TestACLCertIdentity: a rule with cert_identity applies to the clients
// whose verified certificate has that identity only.
func TestACLCertIdentity(t *testing.T) {
	ca := newTestCA(t)
	cfg := transportConfig(t)
	cfg.TLS["mtls"] = configs.TLSSource{Source: "self_signed", ClientAuth: configs.ClientAuth{
		Mode: "required", CAFile: ca.write(t), Identity: "cn", // identity_as none: the ACL still sees it
	}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "mtls", Type: "tls", Address: "127.0.0.1:0", TLS: "mtls", AllowAnonymous: refOf(true)})
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "publish", Topic: "plant/#", CertIdentity: "sensor-7"},
		{Permission: "allow", Action: "subscribe", Topic: "plant/#", CertIdentity: "sensor-7", MaxQoS: refOf(0)},
	}}
	ts := startServer(t, cfg)
	for _, tt := range []struct {
		cn     string
		denied bool
	}{{"sensor-7", false}, {"sensor-8", true}} {
		cert := ca.issue(t, tt.cn)
		c := connectV5(t, ts, v5Connect(""), viaListener("mtls"), dialingWith(tlsDialer(clientTLS(t, devCA(cfg), &cert))))
		code := c.publishCode(t, &paho.Publish{Topic: "plant/line-1", QoS: 1, Payload: []byte("x")})
		if got := code == denied; got != tt.denied {
			t.Errorf("cn %s: publish reason code %#x, denied %v", tt.cn, code, tt.denied)
		}
		codes := c.subscribeCodes(t, "plant/#")
		want := byte(0) // granted QoS 0: max_qos
		if tt.denied {
			want = denied
		}
		if len(codes) != 1 || codes[0] != want {
			t.Errorf("cn %s: SUBACK %v, want [%#x]", tt.cn, codes, want)
		}
	}
}

// TestACLFileReload: rules from acl.file apply after acl.rules, and a
// change to the file changes the decisions of a connected client. A
// file rewritten in place (truncated, then written) is picked up whole;
// one that fails to load (broken, caught empty, gone) is logged with its
// path and error and the rules in force stay.
func TestACLFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.yaml")
	replaceFile(t, path, "rules:\n  - {permission: allow, action: all, topic: a/#}\n")
	cfg := testConfig(t)
	cfg.ACL = configs.ACL{Default: "deny", File: path, ReloadInterval: 10 * time.Millisecond, Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "always/#"},
	}}
	ts, logs := startObserved(t, cfg, func(*Server) {})
	c := connectV5(t, ts, v5Connect("reload"))
	pub := func(topic string) byte {
		return c.publishCode(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	}
	if pub("a/x") == denied || pub("b/x") != denied || pub("always/x") == denied {
		t.Fatal("decisions before the reload are wrong")
	}
	replaceFile(t, path, "rules:\n  - {permission: allow, action: all, topic: b/#}\n  - {permission: deny, action: all, topic: a/#}\n")
	eventually(t, "the reloaded acl file to apply", func() bool {
		return pub("a/x") == denied && pub("b/x") != denied
	})
	if pub("always/x") == denied {
		t.Error("acl.rules lost on reload")
	}
	// Rewritten in place, as os.WriteFile does: the moment the file is
	// empty is never installed, the whole file is.
	if err := os.WriteFile(path, []byte("rules:\n  - {permission: allow, action: all, topic: c/#}\n  - {permission: allow, action: all, topic: b/#}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the file rewritten in place to apply", func() bool { return pub("c/x") != denied })
	if pub("b/x") == denied {
		t.Error("a rule of the file rewritten in place is missing")
	}

	const msg = "acl file not reloaded: keeping the rules in force"
	for _, bad := range []struct {
		name    string
		write   func()
		wantErr error
		errText string
	}{
		{"broken", func() { replaceFile(t, path, "rules: [{permission: maybe}]\n") }, nil, path},
		{"empty", func() { replaceFile(t, path, "") }, filewatch.ErrEmpty, ""},
		{"missing", func() { os.Remove(path) }, os.ErrNotExist, ""},
	} {
		// Counted from here: the rewrite in place above may have been
		// read while empty, and refused with an entry of its own.
		before := logs.FilterMessage(msg).Len()
		bad.write()
		eventually(t, bad.name+": the failed reload's log entry", func() bool { return logs.FilterMessage(msg).Len() > before })
		checkReloadFailure(t, logs.FilterMessage(msg).All()[before], path, bad.wantErr, bad.errText)
		if pub("b/x") == denied || pub("c/x") == denied || pub("always/x") == denied {
			t.Errorf("%s: a file that failed to load changed the decisions", bad.name)
		}
	}
}
