package acl

import (
	"path/filepath"
	"testing"

	"edgemq/configs"
	"edgemq/mqtt"
)

func refOf[T any](v T) *T { return &v }

// TestStaticACLExtensions checks the new rule fields without sockets.
func TestStaticACLExtensions(t *testing.T) {
	a := mustStatic(t, configs.ACL{Default: "allow", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "retain", Topic: "#"},
		{Permission: "allow", Action: "all", Topic: "q/#", MaxQoS: refOf(0)},
		{Permission: "deny", Action: "all", Topic: "c/#", CertIdentity: "bad"},
	}})
	v := view("c1", "u")
	if a.Authorize(v, ActionPublish, "x", 0, true) {
		t.Error("retained publish allowed")
	}
	if !a.Authorize(v, ActionPublish, "x", 0, false) {
		t.Error("plain publish refused")
	}
	if a.Authorize(v, ActionPublish, "q/1", 1, false) || !a.Authorize(v, ActionPublish, "q/1", 0, false) {
		t.Error("max_qos 0 publish decisions wrong")
	}
	if got := a.(QoSLimiter).SubscribeMaxQoS(v, "q/#", 2); got != 0 {
		t.Errorf("SubscribeMaxQoS = %d, want 0", got)
	}
	if !a.Authorize(v, ActionPublish, "c/1", 0, false) {
		t.Error("cert_identity rule applied to a client without that identity")
	}
	v.certID = "bad"
	if a.Authorize(v, ActionPublish, "c/1", 0, false) {
		t.Error("cert_identity rule not applied")
	}
	if _, err := NewStatic(configs.ACL{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "#", MaxQoS: refOf(3)}}}); err == nil {
		t.Error("max_qos 3 accepted")
	}
	if _, err := NewStatic(configs.ACL{Default: "deny", File: filepath.Join(t.TempDir(), "none.yaml")}); err == nil {
		t.Error("missing acl file accepted")
	}
}

// BenchmarkAuthorizePublishExtended: with retain, max_qos and
// cert_identity rules, a cached retained publish costs no allocation.
func BenchmarkAuthorizePublishExtended(b *testing.B) {
	static, err := NewStatic(configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "retain", Topic: "locked/#"},
		{Permission: "allow", Action: "all", Topic: "plant/#", CertIdentity: "sensor-7"},
		{Permission: "allow", Action: "all", Topic: "devices/%u/#", MaxQoS: refOf(1)},
	}})
	if err != nil {
		b.Fatal(err)
	}
	c, h := aclClient(static, "bench-1", "sensor")
	p := &mqtt.Publish{Topic: "devices/sensor/state", QoS: 1, Retain: true}
	if !c.MayPublish(h.Load(), nil, p) {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !c.MayPublish(h.Load(), nil, p) {
			b.Fatal("refused")
		}
	}
}

// TestAuthorizePublishNoAlloc: a cached decision costs no allocation.
func TestAuthorizePublishNoAlloc(t *testing.T) {
	static := mustStatic(t, configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "retain", Topic: "locked/#"},
		{Permission: "allow", Action: "all", Topic: "devices/%u/#", MaxQoS: refOf(1)},
	}})
	c, h := aclClient(static, "c-1", "sensor")
	p := &mqtt.Publish{Topic: "devices/sensor/state", QoS: 1, Retain: true}
	c.MayPublish(h.Load(), nil, p)
	if n := testing.AllocsPerRun(100, func() { c.MayPublish(h.Load(), nil, p) }); n != 0 {
		t.Errorf("%v allocations per cached publish decision", n)
	}
}
