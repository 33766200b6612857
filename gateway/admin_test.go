package gateway

// The admin API over a real HTTP listener, against real MQTT clients
// (paho.golang v5, paho.mqtt.golang 3.1.1 and raw codec clients).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const adminTestToken = "test-admin-token-0123456789"

// adminConfig is testConfig with the admin API on an ephemeral loopback
// port.
func adminConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminTestToken}
	return cfg
}

// startAdminServer is startServer with server options (WithConfigLoader).
func startAdminServer(tb testing.TB, cfg *configs.Config, opts ...Option) *testServer {
	tb.Helper()
	return startServerLog(tb, cfg, zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)), func(*Server) {}, opts...)
}

// adminClient calls the admin API of a test server.
type adminClient struct {
	base  string
	token string
	hc    *http.Client
}

func newAdminClient(tb testing.TB, ts *testServer) *adminClient {
	tb.Helper()
	a := ts.AdminAddr()
	if a == nil {
		tb.Fatal("no admin listener")
	}
	hc := &http.Client{Timeout: eventTimeout}
	tb.Cleanup(hc.CloseIdleConnections)
	return &adminClient{base: "http://" + a.String(), token: adminTestToken, hc: hc}
}

// call sends a request (body marshalled to JSON unless nil) and returns
// the response with its body read.
func (a *adminClient) call(tb testing.TB, method, path string, body any) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("encoding body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

// adminDo calls the API, checks the status and decodes the JSON answer.
func adminDo[T any](tb testing.TB, a *adminClient, method, path string, body any, want int) T {
	tb.Helper()
	resp, b := a.call(tb, method, path, body)
	if resp.StatusCode != want {
		tb.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
	}
	return v
}

// adminListAll follows the next cursors of a listing from path (which has a
// query already) and returns the pages.
func adminListAll[T any](tb testing.TB, a *adminClient, path string) [][]T {
	tb.Helper()
	var pages [][]T
	after := ""
	for range 100 {
		p := path
		if after != "" {
			p += "&after=" + url.QueryEscape(after)
		}
		pg := adminDo[admin.Page[T]](tb, a, "GET", p, nil, http.StatusOK)
		pages = append(pages, pg.Items)
		if pg.Next == "" {
			return pages
		}
		after = pg.Next
	}
	tb.Fatalf("%s: no last page", path)
	return nil
}

func TestAdminAuthAndErrors(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	for _, tc := range []struct {
		name, header string
	}{
		{"missing", ""},
		{"wrong", "Bearer not-the-token"},
		{"prefix of the token", "Bearer " + adminTestToken[:10]},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminTestToken))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", a.base+"/api/v1/clients", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := a.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e admin.ErrorBody
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || e.Error == "" {
				t.Errorf("status %d, WWW-Authenticate %q, error %q; want 401, Bearer, a message", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), e.Error)
			}
		})
	}
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/api/v1/clients", http.StatusOK, ""},
		{"GET", "/api/v1/nothing", http.StatusNotFound, ""},
		{"GET", "/api/v1/clients/nobody", http.StatusNotFound, ""},
		{"DELETE", "/api/v1/clients", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/api/v1/publish", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "/api/v1/clients/x", http.StatusMethodNotAllowed, "DELETE, GET, HEAD"},
		{"GET", "/api/v1/clients?limit=0", http.StatusBadRequest, ""},
		{"GET", "/api/v1/clients?limit=1001", http.StatusBadRequest, ""},
		{"GET", "/api/v1/clients?after=%25%25", http.StatusBadRequest, ""},
		{"GET", "/api/v1/clients?protocol=6", http.StatusBadRequest, ""},
		{"GET", "/api/v1/retained?filter=a/%23/b", http.StatusBadRequest, ""},
	} {
		resp, b := a.call(t, tc.method, tc.path, nil)
		var e admin.ErrorBody
		json.Unmarshal(b, &e)
		if resp.StatusCode != tc.want || (tc.want != http.StatusOK && e.Error == "") {
			t.Errorf("%s %s: status %d body %s, want %d with a JSON error", tc.method, tc.path, resp.StatusCode, b, tc.want)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// Bodies are bounded.
	big := admin.PublishRequest{Topic: "big", Payload: strings.Repeat("x", admin.MaxBody)}
	if resp, b := a.call(t, "POST", "/api/v1/publish", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized publish: status %d %s, want 413", resp.StatusCode, b)
	}
}

func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("  "+adminTestToken+"\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)

	cfg := adminConfig(t)
	cfg.Admin.Token, cfg.Admin.TokenFile = "", good
	ts := startAdminServer(t, cfg)
	a := newAdminClient(t, ts)
	adminDo[admin.Page[admin.ClientItem]](t, a, "GET", "/api/v1/clients", nil, http.StatusOK)

	for _, file := range []string{empty, filepath.Join(dir, "missing")} {
		cfg := adminConfig(t)
		cfg.Admin.Token, cfg.Admin.TokenFile = "", file
		if srv, err := New(cfg, zap.NewNop()); err == nil {
			srv.closeAdmin()
			srv.closeListeners()
			srv.closeSources()
			t.Errorf("token_file %s: New succeeded, want an error", filepath.Base(file))
		} else if !strings.Contains(err.Error(), "token_file") {
			t.Errorf("token_file %s: error %v does not name token_file", filepath.Base(file), err)
		}
	}
}

func TestAdminListClientsPaged(t *testing.T) {
	cfg := adminConfig(t)
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "other", Type: "tcp", Address: "127.0.0.1:0"})
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "pw")}}
	ts := startAdminServer(t, cfg)
	a := newAdminClient(t, ts)

	var want []string
	for i := range 5 {
		id := fmt.Sprintf("page-v5-%d", i)
		cp := v5Connect(id)
		if i%2 == 0 {
			cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = "alice", true, []byte("pw"), true
		}
		connectV5(t, ts, cp).roundTrip(t)
		want = append(want, id)
	}
	for i := range 2 {
		id := fmt.Sprintf("page-v3-%d", i)
		connectV3(t, ts, id, nil).roundTrip(t)
		want = append(want, id)
	}
	connectV5(t, ts, v5Connect("zz-other"), viaListener("other")).roundTrip(t)
	waitConnections(t, ts, 8)

	pages := adminListAll[admin.ClientItem](t, a, "/api/v1/clients?client_id=page-&limit=3")
	if len(pages) != 3 {
		t.Errorf("%d pages of 3 for 7 clients, want 3", len(pages))
	}
	var got []string
	for _, p := range pages {
		for _, it := range p {
			got = append(got, it.ClientID)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("paged client ids %v, want %v in order", got, want)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"protocol=3.1.1", []string{"page-v3-0", "page-v3-1"}},
		{"protocol=5&client_id=page-", []string{"page-v5-0", "page-v5-1", "page-v5-2", "page-v5-3", "page-v5-4"}},
		{"username=alice", []string{"page-v5-0", "page-v5-2", "page-v5-4"}},
		{"listener=other", []string{"zz-other"}},
		{"transport=tcp&client_id=page-v3-1", []string{"page-v3-1"}},
		{"transport=ws", nil},
	} {
		pg := adminDo[admin.Page[admin.ClientItem]](t, a, "GET", "/api/v1/clients?"+tc.query, nil, http.StatusOK)
		var ids []string
		for _, it := range pg.Items {
			ids = append(ids, it.ClientID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("?%s: %v, want %v", tc.query, ids, tc.want)
		}
	}

	pg := adminDo[admin.Page[admin.ClientItem]](t, a, "GET", "/api/v1/clients?client_id=page-v5-2", nil, http.StatusOK)
	if len(pg.Items) != 1 {
		t.Fatalf("page-v5-2: %+v", pg.Items)
	}
	it := pg.Items[0]
	if it.Username != "alice" || it.Listener != "tcp" || it.Transport != "tcp" || it.Protocol != "5.0" ||
		it.KeepAlive != 60 || !strings.HasPrefix(it.RemoteAddr, "127.0.0.1:") || time.Since(it.ConnectedAt) > time.Hour {
		t.Errorf("page-v5-2 = %+v", it)
	}
}

func TestAdminClientDetail(t *testing.T) {
	cfg := transportConfig(t)
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminTestToken}
	ts := startAdminServer(t, cfg)
	a := newAdminClient(t, ts)
	cc := clientTLS(t, devCA(cfg), nil)
	cc.NextProtos = []string{"mqtt"}

	for _, tc := range []struct {
		listener string
		dial     func(testing.TB, string) net.Conn
		tls      bool
	}{
		{"tcp", nil, false},
		{"tls", tlsDialer(cc), true},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			id := "detail-" + tc.listener
			cp := v5Connect(id)
			cp.Properties = &paho.ConnectProperties{ReceiveMaximum: refOf[uint16](7), SessionExpiryInterval: refOf[uint32](120)}
			opts := []clientOpt{viaListener(tc.listener)}
			if tc.dial != nil {
				opts = append(opts, dialingWith(tc.dial))
			}
			c := connectV5(t, ts, cp, opts...)
			c.subscribeWith(t, &paho.Subscribe{
				Properties: &paho.SubscribeProperties{SubscriptionIdentifier: refOf(42)},
				Subscriptions: []paho.SubscribeOptions{
					{Topic: "detail/+/a", QoS: 1, NoLocal: true},
					{Topic: "detail/b/#", QoS: 2, RetainAsPublished: true, RetainHandling: 2},
				},
			})
			d := adminDo[admin.ClientDetailDoc](t, a, "GET", "/api/v1/clients/"+id, nil, http.StatusOK)
			if d.ClientID != id || d.Listener != tc.listener || d.Protocol != "5.0" {
				t.Errorf("detail = %+v", d.ClientItem)
			}
			if n := d.Negotiated; n.ClientReceiveMaximum != 7 || n.OutboundInflight != min(7, cfg.MQTT.MaxInflight) ||
				n.ServerReceiveMaximum != cfg.MQTT.ReceiveMaximum || !n.CleanStart || n.MaximumQoS != cfg.MQTT.MaximumQoS {
				t.Errorf("negotiated = %+v", n)
			}
			if d.SessionExpiry != 120 {
				t.Errorf("session_expiry = %d, want 120", d.SessionExpiry)
			}
			wantSubs := []admin.Subscription{
				{Filter: "detail/+/a", QoS: 1, NoLocal: true, Identifier: 42},
				{Filter: "detail/b/#", QoS: 2, RetainAsPublished: true, RetainHandling: 2, Identifier: 42},
			}
			if !slices.Equal(d.Subscriptions, wantSubs) {
				t.Errorf("subscriptions = %+v, want %+v", d.Subscriptions, wantSubs)
			}
			if d.Inflight != 0 || d.Queued != 0 || d.OutboundQueue.Items < 0 {
				t.Errorf("inflight %d queued %d outbound %+v on an idle client", d.Inflight, d.Queued, d.OutboundQueue)
			}
			switch {
			case !tc.tls && d.TLS != nil:
				t.Errorf("tcp client with tls %+v", d.TLS)
			case tc.tls && d.TLS == nil:
				t.Error("tls client without tls info")
			case tc.tls:
				if d.TLS.Version != "TLS 1.3" || d.TLS.CipherSuite == "" || d.TLS.ServerName != "localhost" || d.TLS.ALPN != "mqtt" || d.TLS.PeerSubject != "" {
					t.Errorf("tls = %+v", d.TLS)
				}
			}
		})
	}
}

func TestAdminKick(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)

	cp := v5Connect("kick-v5")
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf[uint32](300)}
	v5 := connectV5(t, ts, cp)
	v5.subscribe(t, "kick/#", 1)
	v3 := connectV3(t, ts, "kick-v3", nil)
	v3.roundTrip(t)

	for _, reason := range []string{"0x04", "0x10", "256", "x"} {
		if resp, b := a.call(t, "DELETE", "/api/v1/clients/kick-v5?reason="+reason, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("reason %s: status %d %s, want 400", reason, resp.StatusCode, b)
		}
	}
	res := adminDo[admin.KickResult](t, a, "DELETE", "/api/v1/clients/kick-v5", nil, http.StatusOK)
	if res.ReasonCode != "0x98" {
		t.Errorf("kick result %+v", res)
	}
	if d := v5.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.AdministrativeAction) {
		t.Errorf("v5 client got DISCONNECT 0x%02X, want 0x98", d.ReasonCode)
	}
	adminDo[admin.KickResult](t, a, "DELETE", "/api/v1/clients/kick-v3?reason=0x8B", nil, http.StatusOK)
	v3.expectLost(t)
	waitConnections(t, ts, 0)

	adminDo[admin.ErrorBody](t, a, "DELETE", "/api/v1/clients/kick-v5", nil, http.StatusNotFound)
	adminDo[admin.ErrorBody](t, a, "GET", "/api/v1/clients/kick-v5", nil, http.StatusNotFound)
	// The v5 session stays for its expiry.
	pg := adminDo[admin.Page[admin.SessionItem]](t, a, "GET", "/api/v1/sessions?client_id=kick-", nil, http.StatusOK)
	if want := []admin.SessionItem{{ClientID: "kick-v5", Expiry: 300, Subscriptions: 1, Owner: "anonymous:tcp"}}; !slices.Equal(pg.Items, want) {
		t.Errorf("sessions after kick = %+v, want %+v", pg.Items, want)
	}
}

func TestAdminSessions(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)

	// An offline persistent session with a subscription, and others to
	// page over.
	off, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "sess-offline", true, 600))
	off.subscribe(t, "sess/#", 1, mqtt.GrantedQoS1)
	off.send(t, &mqtt.Disconnect{})
	off.expectClosed(t)
	online := connectV5(t, ts, func() *paho.Connect {
		cp := v5Connect("sess-online")
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf[uint32](60)}
		return cp
	}())
	online.roundTrip(t)
	for i := range 4 {
		c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, fmt.Sprintf("sess-x%d", i), true, 600))
		c.send(t, &mqtt.Disconnect{})
		c.expectClosed(t)
	}
	// A queued message for the offline session.
	online.publish(t, &paho.Publish{Topic: "sess/q", QoS: 1, Payload: []byte("queued")})
	waitConnections(t, ts, 1)

	pages := adminListAll[admin.SessionItem](t, a, "/api/v1/sessions?client_id=sess-&limit=2")
	if len(pages) != 3 {
		t.Errorf("%d pages of 2 for 6 sessions, want 3", len(pages))
	}
	all := slices.Concat(pages...)
	var ids []string
	for _, s := range all {
		ids = append(ids, s.ClientID)
	}
	if want := []string{"sess-offline", "sess-online", "sess-x0", "sess-x1", "sess-x2", "sess-x3"}; !slices.Equal(ids, want) {
		t.Fatalf("sessions %v, want %v", ids, want)
	}
	if got, want := all[0], (admin.SessionItem{ClientID: "sess-offline", Expiry: 600, Subscriptions: 1, Queued: 1, Owner: "anonymous:tcp"}); got != want {
		t.Errorf("offline session %+v, want %+v", got, want)
	}
	if !all[1].Connected {
		t.Errorf("online session %+v not connected", all[1])
	}
	pg := adminDo[admin.Page[admin.SessionItem]](t, a, "GET", "/api/v1/sessions?connected=true&client_id=sess-", nil, http.StatusOK)
	if len(pg.Items) != 1 || pg.Items[0].ClientID != "sess-online" {
		t.Errorf("connected sessions %+v", pg.Items)
	}

	// Deleting the offline session: a reconnect finds none.
	adminDo[admin.SessionDeleteResult](t, a, "DELETE", "/api/v1/sessions/sess-offline", nil, http.StatusOK)
	adminDo[admin.ErrorBody](t, a, "DELETE", "/api/v1/sessions/sess-offline", nil, http.StatusNotFound)
	c, ack := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "sess-offline", false, 600))
	if ack.SessionPresent {
		t.Error("session present after the session was deleted")
	}
	c.send(t, &mqtt.Disconnect{})
	c.expectClosed(t)

	// Deleting a connected client's session kicks it first.
	res := adminDo[admin.SessionDeleteResult](t, a, "DELETE", "/api/v1/sessions/sess-online", nil, http.StatusOK)
	if !res.Kicked {
		t.Errorf("delete of a connected session: %+v", res)
	}
	if d := online.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.AdministrativeAction) {
		t.Errorf("DISCONNECT 0x%02X, want 0x98", d.ReasonCode)
	}
	if items := adminDo[admin.Page[admin.SessionItem]](t, a, "GET", "/api/v1/sessions?client_id=sess-onl", nil, http.StatusOK).Items; len(items) > 0 {
		t.Errorf("deleted session still listed: %+v", items)
	}
}

func TestAdminRetained(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	pub := connectV5(t, ts, v5Connect("ret-pub"))
	for i, topic := range []string{"ret/a", "ret/b", "ret/c/d", "other/x"} {
		p := &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte(fmt.Sprintf("payload-%d", i))}
		if topic == "ret/b" {
			p.Properties = &paho.PublishProperties{ContentType: "text/plain", User: paho.UserProperties{{Key: "k", Value: "v"}}}
		}
		pub.publish(t, p)
	}

	var topics []string
	for _, p := range adminListAll[admin.RetainedItem](t, a, "/api/v1/retained?filter=ret/%23&limit=1") {
		for _, it := range p {
			topics = append(topics, it.Topic)
			if it.Payload != "" {
				t.Errorf("%s: payload without ?payload=true", it.Topic)
			}
		}
	}
	if want := []string{"ret/a", "ret/b", "ret/c/d"}; !slices.Equal(topics, want) {
		t.Errorf("retained under ret/# %v, want %v", topics, want)
	}
	pg := adminDo[admin.Page[admin.RetainedItem]](t, a, "GET", "/api/v1/retained?filter=ret/b&payload=true", nil, http.StatusOK)
	if len(pg.Items) != 1 {
		t.Fatalf("ret/b: %+v", pg.Items)
	}
	it := pg.Items[0]
	p, _ := base64.StdEncoding.DecodeString(it.Payload)
	if string(p) != "payload-1" || it.PayloadSize != 9 || it.QoS != 1 || it.Properties.ContentType != "text/plain" ||
		!slices.Equal(it.Properties.UserProperties, []admin.UserProperty{{Key: "k", Value: "v"}}) {
		t.Errorf("ret/b = %+v (payload %q)", it, p)
	}
	if n := len(adminDo[admin.Page[admin.RetainedItem]](t, a, "GET", "/api/v1/retained", nil, http.StatusOK).Items); n != 4 {
		t.Errorf("all retained: %d, want 4", n)
	}

	adminDo[map[string]string](t, a, "DELETE", "/api/v1/retained/ret/c/d", nil, http.StatusOK)
	adminDo[admin.ErrorBody](t, a, "DELETE", "/api/v1/retained/ret/c/d", nil, http.StatusNotFound)
	adminDo[admin.ErrorBody](t, a, "DELETE", "/api/v1/retained/ret/%2B", nil, http.StatusBadRequest)
	sub := connectV5(t, ts, v5Connect("ret-sub"))
	sub.subscribe(t, "ret/c/#", 1)
	sub.expectFence(t, pub, "ret/c/fence")
}

func TestAdminPublish(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	sub := connectV5(t, ts, v5Connect("pub-sub"))
	sub.subscribe(t, "cmd/#", 1)

	res := adminDo[admin.PublishResult](t, a, "POST", "/api/v1/publish", admin.PublishRequest{
		Topic: "cmd/reboot", Payload: "now", QoS: 1, ContentType: "text/plain", MessageExpiry: 600,
		UserProperties: []admin.UserProperty{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}},
	}, http.StatusOK)
	if res.DeliveredTo != 1 || res.Retained || !res.Stored {
		t.Errorf("publish result %+v", res)
	}
	m := sub.expectMessage(t)
	if m.Topic != "cmd/reboot" || string(m.Payload) != "now" || m.QoS != 1 || m.Retain {
		t.Errorf("message %q on %q qos %d retain %v", m.Payload, m.Topic, m.QoS, m.Retain)
	}
	if pp := m.Properties; pp == nil || pp.ContentType != "text/plain" || pp.MessageExpiry == nil || *pp.MessageExpiry > 600 || *pp.MessageExpiry < 590 ||
		!slices.Equal(pp.User, paho.UserProperties{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}) {
		t.Errorf("properties %+v", m.Properties)
	}

	// A retained publish in base64 is stored and sent to a later
	// subscriber.
	raw := []byte{0, 1, 2, 0xFF}
	adminDo[admin.PublishResult](t, a, "POST", "/api/v1/publish", admin.PublishRequest{
		Topic: "cfg/dev1", Payload: base64.StdEncoding.EncodeToString(raw), PayloadEncoding: "base64", Retain: true,
	}, http.StatusOK)
	later := connectV5(t, ts, v5Connect("pub-later"))
	later.subscribe(t, "cfg/#", 0)
	if m := later.expectMessage(t); m.Topic != "cfg/dev1" || !bytes.Equal(m.Payload, raw) || !m.Retain {
		t.Errorf("retained %q on %q retain %v", m.Payload, m.Topic, m.Retain)
	}

	for _, bad := range []admin.PublishRequest{
		{Topic: "cmd/+"},
		{Topic: ""},
		{Topic: "$SYS/broker/uptime", Payload: "0"},
		{Topic: "cmd/x", QoS: 3},
		{Topic: "cmd/x", Payload: "!!", PayloadEncoding: "base64"},
		{Topic: "cmd/x", PayloadEncoding: "hex"},
	} {
		if resp, b := a.call(t, "POST", "/api/v1/publish", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("publish %+v: status %d %s, want 400", bad, resp.StatusCode, b)
		}
	}
	if resp, b := a.call(t, "POST", "/api/v1/publish", map[string]any{"topic": "cmd/x", "bogus": 1}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown field: status %d %s, want 400", resp.StatusCode, b)
	}
	sub.expectFence(t, later, "cmd/fence")
}

// TestAdminPublishStored: the admin publish answers once the message is
// as durable as a client's PUBLISH when acknowledged, and says so: stored
// for QoS 1 and retained messages with a store (store.durability sync),
// not for a QoS 0 message, nor in memory mode.
func TestAdminPublishStored(t *testing.T) {
	for _, durability := range []string{"sync", "memory"} {
		t.Run(durability, func(t *testing.T) {
			cfg := adminConfig(t)
			cfg.Store.Durability = durability
			a := newAdminClient(t, startAdminServer(t, cfg))
			for _, tc := range []struct {
				qos    byte
				retain bool
				stored bool
			}{
				{0, false, false},
				{1, false, durability == "sync"},
				{2, false, durability == "sync"},
				{0, true, durability == "sync"},
			} {
				res := adminDo[admin.PublishResult](t, a, "POST", "/api/v1/publish",
					admin.PublishRequest{Topic: "stored/t", Payload: "x", QoS: tc.qos, Retain: tc.retain}, http.StatusOK)
				if res.Stored != tc.stored || res.Retained != tc.retain {
					t.Errorf("qos %d retain %v: %+v, want stored %v", tc.qos, tc.retain, res, tc.stored)
				}
			}
		})
	}
}

func TestAdminReload(t *testing.T) {
	cfg := adminConfig(t)
	next := *cfg // what the loader returns; the test changes it
	ts := startAdminServer(t, cfg, WithConfigLoader(func() (*configs.Config, error) {
		c := next
		return &c, nil
	}))
	a := newAdminClient(t, ts)

	res := adminDo[ReloadResult](t, a, "POST", "/api/v1/reload", nil, http.StatusOK)
	if len(res.Changed) != 0 || len(res.NeedsRestart) != 0 {
		t.Errorf("unchanged config: %+v", res)
	}
	next.Log.Level = "loud"
	e := adminDo[admin.ErrorBody](t, a, "POST", "/api/v1/reload", nil, http.StatusUnprocessableEntity)
	if !strings.Contains(e.Error, "log.level") {
		t.Errorf("refused reload error %q does not name log.level", e.Error)
	}
}

func TestAdminDrain(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	v5 := connectV5(t, ts, v5Connect("drain-admin"))
	v5.roundTrip(t)

	res := adminDo[admin.DrainResult](t, a, "POST", "/api/v1/drain", nil, http.StatusAccepted)
	if !res.Draining {
		t.Errorf("drain result %+v", res)
	}
	if d := v5.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.ServerShuttingDown) {
		t.Errorf("DISCONNECT 0x%02X, want 0x8B", d.ReasonCode)
	}
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		ts.done <- nil // for the cleanup
	case <-time.After(eventTimeout):
		t.Fatal("Run did not return after the drain")
	}
}
