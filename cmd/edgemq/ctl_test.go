package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"

	"edgemq/configs"
	"edgemq/gateway"
)

const ctlTestToken = "ctl-test-token-0123456789"

// ctlGateway is a running gateway with its admin API for ctl tests.
type ctlGateway struct {
	admin string // http://host:port
	tcp   string // the tcp listener's address
	done  chan error
}

// startCtlGateway runs a gateway with a tcp listener and the admin API on
// free loopback ports until the test ends (or a drain ends it); setups
// change its configuration first.
func startCtlGateway(t *testing.T, setups ...func(*configs.Config)) *ctlGateway {
	t.Helper()
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []configs.Listener{{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"}}
	cfg.Ops.Address = ""
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: ctlTestToken}
	cfg.DataDir = t.TempDir()
	cfg.Drain.Period = 0
	cfg.Sys.Interval = 0 // no $SYS retained messages in the listings
	cfg.Auth.BruteForce.Enabled = false
	for _, setup := range setups {
		setup(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(cfg, zap.NewNop(), gateway.WithConfigLoader(func() (*configs.Config, error) { return cfg, nil }))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetVersion("v0.0.0-ctltest")
	g := &ctlGateway{admin: "http://" + srv.AdminAddr().String(), tcp: srv.Addr("tcp").String(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { g.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-g.done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return g
}

// ctl runs `edgemq ctl` with args against g and returns the exit status,
// stdout and stderr.
func (g *ctlGateway) ctl(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	all := append([]string{"ctl", "--addr", g.admin, "--token", ctlTestToken}, args...)
	code := run(all, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// ctlJSON runs ctl with --json, wants exit 0, and decodes stdout into T.
func ctlJSON[T any](t testing.TB, g *ctlGateway, args ...string) T {
	t.Helper()
	code, out, errOut := g.ctl(t, append([]string{"--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ctl %v: exit %d, stderr:\n%s", args, code, errOut)
	}
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("ctl %v: decoding %q: %v", args, out, err)
	}
	return v
}

// v5Sub is a connected MQTT 5 client recording what it receives.
type v5Sub struct {
	c          *paho.Client
	msgs       chan *paho.Publish
	disconnect chan *paho.Disconnect
}

// connectV5 connects a paho MQTT 5 client with a persistent session.
func connectV5(t *testing.T, addr, id string) *v5Sub {
	t.Helper()
	return connectV5Expiry(t, addr, id, 600)
}

// connectV5Expiry connects a paho MQTT 5 client with Clean Start and
// Session Expiry Interval expiry (0: the session ends with the
// connection).
func connectV5Expiry(t *testing.T, addr, id string, expiry uint32) *v5Sub {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &v5Sub{msgs: make(chan *paho.Publish, 16), disconnect: make(chan *paho.Disconnect, 1)}
	s.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			s.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { s.disconnect <- d },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}); err != nil {
		t.Fatalf("connecting %s: %v", id, err)
	}
	t.Cleanup(func() {
		_ = s.c.Disconnect(&paho.Disconnect{})
		nc.Close()
		<-s.c.Done()
	})
	return s
}

func (s *v5Sub) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
		t.Fatalf("subscribing: %v", err)
	}
}

func (s *v5Sub) expectMessage(t *testing.T, topic, payload string) {
	t.Helper()
	select {
	case p := <-s.msgs:
		if p.Topic != topic || string(p.Payload) != payload {
			t.Errorf("received %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message on %s", topic)
	}
}

type ctlItems[T any] struct {
	Items []T `json:"items"`
}

type ctlSubDoc struct {
	Filter string `json:"filter"`
	QoS    int    `json:"qos"`
}

// TestCtl runs every edgemq ctl subcommand against a real gateway, in
// table and JSON form, with a real MQTT 5 client to list, show and kick.
func TestCtl(t *testing.T) {
	g := startCtlGateway(t)
	sub := connectV5(t, g.tcp, "ctl-sub")
	sub.subscribe(t, "ctl/#", 1)

	// publish: a table line and the message at the subscriber.
	code, out, errOut := g.ctl(t, "publish", "--qos", "1", "--retain", "--user-property", "k=v", "ctl/news", "hello")
	if code != 0 || !strings.Contains(out, "delivered to 1, retained") {
		t.Fatalf("publish: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	sub.expectMessage(t, "ctl/news", "hello")
	pub := ctlJSON[struct {
		DeliveredTo int  `json:"delivered_to"`
		Retained    bool `json:"retained"`
	}](t, g, "publish", "ctl/plain", "aGk=", "--base64")
	if pub.DeliveredTo != 1 || pub.Retained {
		t.Errorf("publish --json: %+v", pub)
	}
	sub.expectMessage(t, "ctl/plain", "hi")

	// status
	code, out, _ = g.ctl(t, "status")
	for _, want := range []string{"v0.0.0-ctltest", "single node", "tcp", g.tcp, "connections:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	st := ctlJSON[struct {
		Version   string `json:"version"`
		Listeners []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
			Up      bool   `json:"up"`
		} `json:"listeners"`
		Counts struct {
			Connections   int `json:"connections"`
			Subscriptions int `json:"subscriptions"`
			Retained      int `json:"retained"`
		} `json:"counts"`
		Cluster []any `json:"cluster"`
	}](t, g, "status")
	if st.Version != "v0.0.0-ctltest" || len(st.Listeners) != 1 || st.Listeners[0].Address != g.tcp || !st.Listeners[0].Up ||
		st.Counts.Connections != 1 || st.Counts.Subscriptions != 1 || st.Counts.Retained != 1 || st.Cluster == nil || len(st.Cluster) != 0 {
		t.Errorf("status --json: %+v", st)
	}

	// clients: list with filters, show.
	code, out, _ = g.ctl(t, "clients")
	if code != 0 || !strings.Contains(out, "ctl-sub") || !strings.Contains(out, "1 clients") {
		t.Errorf("clients: exit %d:\n%s", code, out)
	}
	type clientItem struct {
		ClientID string `json:"client_id"`
		Listener string `json:"listener"`
		Protocol string `json:"protocol"`
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"clients", "--protocol", "5.0"}, 1},
		{[]string{"clients", "list", "--listener", "tcp", "--client-id", "ctl-"}, 1},
		{[]string{"clients", "--protocol", "3.1.1"}, 0},
		{[]string{"clients", "--client-id", "other"}, 0},
	} {
		cl := ctlJSON[ctlItems[clientItem]](t, g, tc.args...)
		if len(cl.Items) != tc.want {
			t.Errorf("%v: %d clients %+v, want %d", tc.args, len(cl.Items), cl.Items, tc.want)
		} else if tc.want == 1 && (cl.Items[0] != clientItem{ClientID: "ctl-sub", Listener: "tcp", Protocol: "5.0"}) {
			t.Errorf("%v: %+v", tc.args, cl.Items[0])
		}
	}
	detail := ctlJSON[struct {
		ClientID      string      `json:"client_id"`
		Subscriptions []ctlSubDoc `json:"subscriptions"`
	}](t, g, "clients", "show", "ctl-sub")
	if detail.ClientID != "ctl-sub" || len(detail.Subscriptions) != 1 || detail.Subscriptions[0] != (ctlSubDoc{"ctl/#", 1}) {
		t.Errorf("clients show --json: %+v", detail)
	}
	if code, out, _ = g.ctl(t, "clients", "show", "ctl-sub"); code != 0 || !strings.Contains(out, "ctl/#") || !strings.Contains(out, "MQTT 5.0") {
		t.Errorf("clients show: exit %d:\n%s", code, out)
	}

	// sessions: list, show.
	ss := ctlJSON[ctlItems[struct {
		ClientID  string `json:"client_id"`
		Connected bool   `json:"connected"`
	}]](t, g, "sessions", "--connected", "true")
	if len(ss.Items) != 1 || ss.Items[0].ClientID != "ctl-sub" || !ss.Items[0].Connected {
		t.Errorf("sessions --json: %+v", ss.Items)
	}
	if code, out, _ = g.ctl(t, "sessions"); code != 0 || !strings.Contains(out, "ctl-sub") {
		t.Errorf("sessions: exit %d:\n%s", code, out)
	}
	sd := ctlJSON[struct {
		ClientID      string      `json:"client_id"`
		Expiry        int         `json:"expiry"`
		Subscriptions []ctlSubDoc `json:"subscriptions"`
	}](t, g, "sessions", "show", "ctl-sub")
	if sd.ClientID != "ctl-sub" || sd.Expiry != 600 || len(sd.Subscriptions) != 1 || sd.Subscriptions[0].Filter != "ctl/#" {
		t.Errorf("sessions show --json: %+v", sd)
	}
	if code, out, _ = g.ctl(t, "sessions", "show", "ctl-sub"); code != 0 || !strings.Contains(out, "10m0s") {
		t.Errorf("sessions show: exit %d:\n%s", code, out)
	}

	// retained: list by filter, delete.
	rl := ctlJSON[ctlItems[struct {
		Topic   string `json:"topic"`
		Payload string `json:"payload"`
	}]](t, g, "retained", "--filter", "ctl/#", "--payload")
	if len(rl.Items) != 1 || rl.Items[0].Topic != "ctl/news" || rl.Items[0].Payload != "aGVsbG8=" {
		t.Errorf("retained --json: %+v", rl.Items)
	}
	if code, out, _ = g.ctl(t, "retained", "list", "--filter", "other/#"); code != 0 || !strings.Contains(out, "0 retained messages") {
		t.Errorf("retained other/#: exit %d:\n%s", code, out)
	}
	if code, out, _ = g.ctl(t, "retained", "delete", "ctl/news"); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("retained delete: exit %d:\n%s", code, out)
	}
	if code, _, errOut = g.ctl(t, "retained", "delete", "ctl/news"); code != ctlNotFound {
		t.Errorf("retained delete again: exit %d, want %d; %s", code, ctlNotFound, errOut)
	}

	// reload: the same configuration, nothing changed.
	rr := ctlJSON[struct {
		Changed []string `json:"changed"`
	}](t, g, "reload")
	if rr.Changed == nil || len(rr.Changed) != 0 {
		t.Errorf("reload --json: %+v", rr)
	}
	if code, out, _ = g.ctl(t, "reload"); code != 0 || !strings.Contains(out, "nothing changed") {
		t.Errorf("reload: exit %d:\n%s", code, out)
	}

	// kick with a reason by name: the v5 client gets DISCONNECT 0x8B
	// Server shutting down [MQTT-3.14.2-1].
	kick := ctlJSON[struct {
		ClientID   string `json:"client_id"`
		ReasonCode string `json:"reason_code"`
	}](t, g, "clients", "kick", "ctl-sub", "--reason", "server-shutting-down")
	if kick.ClientID != "ctl-sub" || kick.ReasonCode != "0x8B" {
		t.Errorf("kick --json: %+v", kick)
	}
	select {
	case d := <-sub.disconnect:
		if d.ReasonCode != 0x8B {
			t.Errorf("DISCONNECT 0x%02X, want 0x8B", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the kicked client got no DISCONNECT")
	}
	if code, _, _ = g.ctl(t, "clients", "kick", "ctl-sub"); code != ctlNotFound {
		t.Errorf("kick of a gone client: exit %d, want %d", code, ctlNotFound)
	}
	// The default reason, in table form: 0x98 Administrative action.
	two := connectV5(t, g.tcp, "ctl-two")
	// CONNACK goes out a moment before the gateway lists the client.
	listed := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := g.ctl(t, "clients", "show", "ctl-two"); code == 0 {
			break
		}
		if time.Now().After(listed) {
			t.Fatal("ctl-two was never listed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, out, _ = g.ctl(t, "clients", "kick", "ctl-two"); code != 0 || out != "kicked ctl-two: sent DISCONNECT 0x98 (administrative action)\n" {
		t.Errorf("kick: exit %d, %q", code, out)
	}
	select {
	case d := <-two.disconnect:
		if d.ReasonCode != 0x98 {
			t.Errorf("DISCONNECT 0x%02X, want 0x98", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ctl-two got no DISCONNECT")
	}

	// sessions delete: the offline session goes.
	if code, out, _ = g.ctl(t, "sessions", "delete", "ctl-sub"); code != 0 || !strings.Contains(out, "deleted the session of ctl-sub") {
		t.Errorf("sessions delete: exit %d:\n%s", code, out)
	}
	if code, _, _ = g.ctl(t, "sessions", "show", "ctl-sub"); code != ctlNotFound {
		t.Errorf("sessions show after delete: exit %d, want %d", code, ctlNotFound)
	}

	// drain: 202, and the gateway's Run returns.
	dr := ctlJSON[struct {
		Draining bool `json:"draining"`
	}](t, g, "drain")
	if !dr.Draining {
		t.Errorf("drain --json: %+v", dr)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("gateway run after drain: %v", err)
		}
		g.done <- err // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("the gateway did not stop after ctl drain")
	}
}

// TestCtlExitCodes: each failure has its exit status and a message on
// stderr; nothing on stdout.
func TestCtlExitCodes(t *testing.T) {
	g := startCtlGateway(t)
	closed := "http://" + closedAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"no command", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken}, ctlUsage, "Usage: edgemq ctl"},
		{"unknown command", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "frobnicate"}, ctlUsage, `unknown command "frobnicate"`},
		{"unknown flag", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "status", "--bogus"}, ctlUsage, "flag provided but not defined"},
		{"missing id", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "clients", "show"}, ctlUsage, "missing ID"},
		{"extra argument", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "status", "now"}, ctlUsage, `unexpected argument "now"`},
		{"no token", []string{"ctl", "--addr", g.admin, "status"}, ctlUsage, "no token"},
		{"wrong token", []string{"ctl", "--addr", g.admin, "--token", "wrong", "status"}, ctlAuthRefused, "401"},
		{"unreachable", []string{"ctl", "--addr", closed, "--token", ctlTestToken, "status"}, ctlUnreachable, "connection refused"},
		{"not found", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "clients", "show", "nobody"}, ctlNotFound, `client "nobody" is not connected`},
		{"refused", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "publish", "--qos", "3", "t", "x"}, ctlError, "qos 3"},
		{"unknown reason name", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "clients", "kick", "x", "--reason", "be-gone"}, ctlUsage, `"be-gone" is neither`},
		{"bad reason", []string{"ctl", "--addr", g.admin, "--token", ctlTestToken, "clients", "kick", "x", "--reason", "0x04"}, ctlError, "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EDGEMQ_ADDR", "")
			t.Setenv("EDGEMQ_TOKEN", "")
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("stderr lacks %q:\n%s", tc.says, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestCtlEnvironment: EDGEMQ_ADDR and EDGEMQ_TOKEN stand for the flags,
// and the flags win over them.
func TestCtlEnvironment(t *testing.T) {
	g := startCtlGateway(t)
	t.Setenv("EDGEMQ_ADDR", strings.TrimPrefix(g.admin, "http://")) // host:port alone works too
	t.Setenv("EDGEMQ_TOKEN", ctlTestToken)
	if code, out, errOut := runMain(t, "ctl", "status"); code != 0 || !strings.Contains(out, "v0.0.0-ctltest") {
		t.Errorf("status from the environment: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, _ := runMain(t, "ctl", "--token", "wrong", "status"); code != ctlAuthRefused {
		t.Errorf("--token over EDGEMQ_TOKEN: exit %d, want %d", code, ctlAuthRefused)
	}
	tokenFile := writeFile(t, "token", ctlTestToken+"\n")
	t.Setenv("EDGEMQ_TOKEN", "")
	if code, _, errOut := runMain(t, "ctl", "--token-file", tokenFile, "status"); code != 0 {
		t.Errorf("--token-file: exit %d, stderr %q", code, errOut)
	}
}
