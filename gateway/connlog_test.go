package gateway

import (
	"path/filepath"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// startObserved starts a gateway on cfg whose log goes to an observer
// (debug and up); setup runs on the server before Run. It stops with the
// test.
func startObserved(tb testing.TB, cfg *configs.Config, setup func(*Server)) (*testServer, *observer.ObservedLogs) {
	tb.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	return startServerLog(tb, cfg, zap.New(core), setup), logs
}

// oneEntry waits for the entries with message msg whose context has
// field=value, and returns the first.
func oneEntry(tb testing.TB, logs *observer.ObservedLogs, msg, field string, value any) map[string]any {
	tb.Helper()
	var found map[string]any
	waitFor(tb, msg+" "+field, func() bool {
		for _, e := range logs.FilterMessage(msg).All() {
			if m := e.ContextMap(); m[field] == value {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// checkFields fails the test for each field of want that m lacks or
// holds another value in.
func checkFields(tb testing.TB, what string, m map[string]any, want map[string]any) {
	tb.Helper()
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			tb.Errorf("%s: %s = %v (%T), want %v (%T)", what, k, got, got, v, v)
		}
	}
}

// A v5 client's life: accepted, connected with the negotiated summary,
// disconnected by its own DISCONNECT 0x00 with duration and traffic.
func TestConnLogLifecycle(t *testing.T) {
	cfg := testConfig(t)
	ts, logs := startObserved(t, cfg, func(*Server) {})

	cp := v5Connect("life")
	rm, mps, tam := uint16(7), uint32(4096), uint16(3)
	cp.Properties = &paho.ConnectProperties{ReceiveMaximum: &rm, MaximumPacketSize: &mps, TopicAliasMaximum: &tam}
	c := connectV5(t, ts, cp)
	c.subscribe(t, "t/#", 1)
	c.publish(t, &paho.Publish{Topic: "t/a", QoS: 1, Payload: []byte("hello")})
	c.expectMessage(t)
	if err := c.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}

	acc := oneEntry(t, logs, "connection accepted", "listener", "tcp")
	checkFields(t, "connection accepted", acc, map[string]any{"transport": "tcp"})
	if acc["remote_addr"] == "" {
		t.Error("connection accepted: no remote_addr")
	}

	con := oneEntry(t, logs, "client connected", "client_id", "life")
	checkFields(t, "client connected", con, map[string]any{
		"listener": "tcp", "transport": "tcp", "protocol": "5", "username": "",
		"keep_alive": uint16(60), "clean_start": true, "session_present": false,
		"receive_maximum_client": rm, "max_packet_size_client": mps, "topic_alias_max_client": tam,
	})
	for _, k := range []string{"remote_addr", "session_expiry", "receive_maximum_server", "max_packet_size_server", "topic_alias_max_server"} {
		if _, ok := con[k]; !ok {
			t.Errorf("client connected: no %s", k)
		}
	}

	dis := oneEntry(t, logs, "client disconnected", "client_id", "life")
	checkFields(t, "client disconnected", dis, map[string]any{
		"initiator": "client", "reason_code": uint8(0x00), "reason": mqtt.Success.String(),
		"listener": "tcp", "protocol": "5", "messages_in": int64(1), "messages_out": int64(1),
	})
	if d, ok := dis["duration"].(time.Duration); !ok || d <= 0 {
		t.Errorf("client disconnected: duration %v", dis["duration"])
	}
	for _, k := range []string{"bytes_in", "bytes_out"} {
		if n, ok := dis[k].(int64); !ok || n <= 0 {
			t.Errorf("client disconnected: %s = %v", k, dis[k])
		}
	}
	if n := logs.FilterMessage("connection refused").Len(); n != 0 {
		t.Errorf("%d refusals logged for a client that connected", n)
	}
}

// Disconnections the server decides are logged with who decided: a
// takeover, and a protocol error.
func TestConnLogServerDisconnect(t *testing.T) {
	cfg := testConfig(t)
	ts, logs := startObserved(t, cfg, func(*Server) {})

	first := connectV5(t, ts, v5Connect("twin"))
	connectV5(t, ts, v5Connect("twin"))
	first.expectServerDisconnect(t)
	dis := oneEntry(t, logs, "client disconnected", "initiator", "takeover")
	checkFields(t, "takeover", dis, map[string]any{"client_id": "twin", "reason_code": uint8(mqtt.SessionTakenOver)})

	// A second CONNECT is a protocol error [MQTT-3.1.0-2].
	c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "twice", true, 0))
	c.send(t, sessConnect(mqtt.V5, "twice", true, 0))
	dis = oneEntry(t, logs, "client disconnected", "client_id", "twice")
	checkFields(t, "protocol error", dis, map[string]any{"initiator": "server", "reason_code": uint8(mqtt.ProtocolError)})
	if _, ok := dis["error"]; !ok {
		t.Error("protocol error: no error field")
	}
}

// A refused CONNECT (bad password) is one "connection refused" entry
// with the v5 reason code, and for 3.1.1 the return code it maps to.
func TestConnLogRefused(t *testing.T) {
	cfg := authConfig(t)
	ts, logs := startObserved(t, cfg, func(*Server) {})

	_, ack, err := dialV5(t, ts, &paho.Connect{ClientID: "bad5", CleanStart: true, KeepAlive: 60,
		UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("wrong")}, viaListener("closed"))
	if err == nil || ack == nil || ack.ReasonCode != 0x86 {
		t.Fatalf("v5 bad password: ack %v err %v", ack, err)
	}
	if _, ct, err := dialV3(t, ts, "bad3", func(o *mqtt3.ClientOptions) { o.SetUsername("alice").SetPassword("wrong") },
		viaListener("closed")); err == nil || ct.ReturnCode() != 4 {
		t.Fatalf("3.1.1 bad password: %v, return code %d", err, ct.ReturnCode())
	}

	r5 := oneEntry(t, logs, "connection refused", "client_id", "bad5")
	checkFields(t, "v5 refusal", r5, map[string]any{
		"stage": "connect", "reason_code": uint8(0x86), "reason": mqtt.BadUserNameOrPassword.String(),
		"protocol": "5", "username": "alice", "listener": "closed", "transport": "tcp",
	})
	if _, ok := r5["return_code"]; ok {
		t.Error("v5 refusal: has a 3.x return_code")
	}
	r3 := oneEntry(t, logs, "connection refused", "client_id", "bad3")
	checkFields(t, "3.1.1 refusal", r3, map[string]any{
		"stage": "connect", "reason_code": uint8(0x86), "return_code": uint8(4), "protocol": "3.1.1",
	})
	if n := logs.FilterMessage("connection refused").Len(); n != 2 {
		t.Errorf("%d refusals logged, want 2", n)
	}
	af := oneEntry(t, logs, "authentication failed", "username", "alice")
	checkFields(t, "authentication failed", af, map[string]any{"backend": "static", "reason_code": uint8(0x86)})
	if n := logs.FilterMessage("client connected").Len() + logs.FilterMessage("client disconnected").Len(); n != 0 {
		t.Errorf("%d connected/disconnected entries for refused clients", n)
	}
}

// A burst of 500 refused clients logs at most the sampler's quota; the
// rest is counted in edgemq_log_sampled_total.
func TestConnLogRefusalsSampled(t *testing.T) {
	const burst, quota = 500, 20
	cfg := authConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	ts, logs := startObserved(t, cfg, func(s *Server) {
		// One window for the whole test: the quota does not depend on
		// how long the burst takes.
		s.eng.ConnLog().SetSampling(time.Hour, quota, 0)
	})
	for i := range burst {
		nc := dial(t, ts, "closed")
		cp := &mqtt.Connect{Version: mqtt.V5, ClientID: "flood", CleanStart: true, KeepAlive: 60,
			UsernameFlag: true, Username: "mallory", PasswordFlag: true, Password: []byte("x")}
		c := &sessClient{nc: nc, rd: mqtt.NewReader(nc, 0, nil), v: mqtt.V5, id: "flood"}
		c.send(t, cp)
		if ack := nextOf[*mqtt.Connack](t, c); ack.ReasonCode != mqtt.BadUserNameOrPassword {
			t.Fatalf("client %d: %v", i, ack.ReasonCode)
		}
		nc.Close()
	}
	refusals := logs.FilterMessage("connection refused").Len()
	if refusals == 0 || refusals > quota {
		t.Errorf("%d refusal entries for %d refused clients, want 1..%d", refusals, burst, quota)
	}
	if n := logs.FilterMessage("authentication failed").Len(); n > quota {
		t.Errorf("%d authentication failed entries, want at most %d", n, quota)
	}
	dropped := metricValue(scrape(t, ts), "edgemq_log_sampled_total")
	if dropped < burst-quota {
		t.Errorf("edgemq_log_sampled_total = %v, want at least %d", dropped, burst-quota)
	}
}

// Authentication failures are counted by the kind of backend that
// decided: the static users, a password file, and no backend at all
// (anonymous where credentials are required).
func TestAuthFailuresByBackend(t *testing.T) {
	cfg := authConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	path := filepath.Join(t.TempDir(), "passwd")
	writePasswordFile(t, path, "bob:"+bcryptHash(t, "right"))
	cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file",
		PasswordFile: configs.PasswordFileAuth{Path: path}}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "file", Type: "tcp", Address: "127.0.0.1:0",
		Auth: []string{"file"}, AllowAnonymous: refOf(false)})
	ts := startServer(t, cfg)

	expectRefused(t, ts, passwordConnect("s1", "alice", "wrong"), mqtt.BadUserNameOrPassword, viaListener("closed"))
	expectRefused(t, ts, passwordConnect("p1", "bob", "wrong"), mqtt.BadUserNameOrPassword, viaListener("file"))
	expectRefused(t, ts, passwordConnect("p2", "bob", "wrong"), mqtt.BadUserNameOrPassword, viaListener("file"))
	expectRefused(t, ts, v5Connect("anon"), mqtt.NotAuthorized, viaListener("file"))
	connectV5(t, ts, passwordConnect("ok", "bob", "right"), viaListener("file"))

	mfs := scrape(t, ts)
	want := []struct {
		backend, reason string
		n               float64
	}{
		{"static", "bad_credentials", 1},
		{"passwd", "bad_credentials", 2},
		{"anonymous", "not_authorized", 1},
		{"passwd", "not_authorized", 0},
		{"jwt", "bad_credentials", 0},
	}
	for _, w := range want {
		if got := metricValue(mfs, "edgemq_auth_backend_failures_total", "backend", w.backend, "reason", w.reason); got != w.n {
			t.Errorf("edgemq_auth_backend_failures_total{backend=%q,reason=%q} = %v, want %v", w.backend, w.reason, got, w.n)
		}
	}
	// The total by reason is unchanged.
	if got := metricValue(mfs, "edgemq_auth_failures_total", "reason", "bad_credentials"); got != 3 {
		t.Errorf("edgemq_auth_failures_total{reason=bad_credentials} = %v, want 3", got)
	}
}
