package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"
)

// writeServerCert writes a self-signed certificate for localhost and
// 127.0.0.1 with the given serial number, and its key, as PEM files in
// dir.
func writeServerCert(tb testing.TB, dir string, serial int64) configs.CertFiles {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	f := configs.CertFiles{
		Cert: filepath.Join(dir, big.NewInt(serial).String()+".crt"),
		Key:  filepath.Join(dir, big.NewInt(serial).String()+".key"),
	}
	if err := os.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return f
}

// reloadTLS trusts whatever certificate the server shows: the tests look
// at its serial number.
func reloadTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"mqtt"}}
}

// servedSerial makes a new TLS connection to addr and returns the serial
// number of the server's certificate.
func servedSerial(tb testing.TB, addr string) int64 {
	tb.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: eventTimeout}, "tcp", addr, reloadTLS())
	if err != nil {
		tb.Fatalf("dialing tls: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// reloadBase returns a configuration with a tcp and a tls listener; the
// tls listener takes the certificate cert from the files source "main".
// Every call with the same dataDir and cert gives an equal configuration.
func reloadBase(tb testing.TB, dataDir string, cert configs.CertFiles) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.DataDir = dataDir
	cfg.TLS = map[string]configs.TLSSource{"main": {Source: "files", Files: []configs.CertFiles{cert}}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "tls", Type: "tls", Address: "127.0.0.1:0", TLS: "main"})
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "a/#"},
		{Permission: "allow", Action: "all", Topic: "b/#"},
	}}
	return cfg
}

// reloadCount is edgemq_config_reloads_total{result}.
func reloadCount(tb testing.TB, ts *testServer, result string) float64 {
	tb.Helper()
	var m dto.Metric
	if err := ts.reloads.total.WithLabelValues(result).Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func reload(tb testing.TB, ts *testServer, cfg *configs.Config) ReloadResult {
	tb.Helper()
	res, err := ts.Reload(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("reload: %v", err)
	}
	return res
}

// TestReloadCertificateAndACL: a reload swapping the certificate and the
// ACL under live connections keeps them; new handshakes get the new
// certificate and the live publisher the new rules; a refused reload
// (invalid, or needing a restart) keeps both in force.
func TestReloadCertificateAndACL(t *testing.T) {
	dir, certDir := t.TempDir(), t.TempDir()
	cert1, cert2 := writeServerCert(t, certDir, 1001), writeServerCert(t, certDir, 1002)
	ts := startServer(t, reloadBase(t, dir, cert1))
	addr := ts.addr(t, "tls")
	viaTLS := []clientOpt{viaListener("tls"), dialingWith(tlsDialer(reloadTLS()))}

	sub := connectV5(t, ts, v5Connect("reload-sub"), viaTLS...)
	sub.subscribe(t, "a/#", 1)
	sub.subscribe(t, "b/#", 1)
	pub := connectV5(t, ts, v5Connect("reload-pub"), viaTLS...)
	pub.publish(t, &paho.Publish{Topic: "b/1", QoS: 1, Payload: []byte("before")})
	if m := sub.expectMessage(t); string(m.Payload) != "before" {
		t.Fatalf("got %q before the reload", m.Payload)
	}
	if got := servedSerial(t, addr); got != 1001 {
		t.Fatalf("serial %d before the reload, want 1001", got)
	}

	next := reloadBase(t, dir, cert2)
	next.ACL.Rules = next.ACL.Rules[:1] // b/# no longer allowed
	res := reload(t, ts, next)
	if want := []string{"acl.rules", "tls.main.files"}; !slices.Equal(res.Changed, want) || !slices.Equal(res.Applied, want) || len(res.NeedsRestart) > 0 {
		t.Fatalf("reload result %+v, want changed and applied %q", res, want)
	}

	if got := servedSerial(t, addr); got != 1002 {
		t.Fatalf("serial %d after the reload, want 1002", got)
	}
	if code := pub.publishCode(t, &paho.Publish{Topic: "b/2", QoS: 1, Payload: []byte("denied")}); code != byte(mqtt.NotAuthorized) {
		t.Fatalf("live client's publish to b/2: PUBACK 0x%02X, want 0x87", code)
	}
	pub.publish(t, &paho.Publish{Topic: "a/1", QoS: 1, Payload: []byte("after")})
	if m := sub.expectMessage(t); string(m.Payload) != "after" || m.Topic != "a/1" {
		t.Fatalf("live subscriber got %q on %q, want after on a/1", m.Payload, m.Topic)
	}

	// Refused: an invalid configuration, then one needing a restart.
	bad := reloadBase(t, dir, cert1)
	bad.ACL.Default = "maybe"
	if _, err := ts.Reload(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "acl.default") {
		t.Fatalf("invalid reload: err %v, want one naming acl.default", err)
	}
	moved := reloadBase(t, dir, cert1)
	moved.Listeners[1].Address = "127.0.0.1:1"
	res, err := ts.Reload(context.Background(), moved)
	if !errors.Is(err, ErrNeedsRestart) || !strings.Contains(err.Error(), "listeners[tls].address: needs a restart") {
		t.Fatalf("address change: err %v, want listeners[tls].address: needs a restart", err)
	}
	if !slices.Equal(res.NeedsRestart, []string{"listeners[tls].address"}) || len(res.Applied) > 0 {
		t.Fatalf("address change result %+v", res)
	}
	if got := servedSerial(t, addr); got != 1002 {
		t.Fatalf("serial %d after refused reloads, want 1002 still", got)
	}
	if code := pub.publishCode(t, &paho.Publish{Topic: "b/3", QoS: 1, Payload: []byte("denied")}); code != byte(mqtt.NotAuthorized) {
		t.Fatalf("publish to b/3 after refused reloads: PUBACK 0x%02X, want 0x87", code)
	}
	if got := reloadCount(t, ts, "refused"); got != 2 {
		t.Errorf("refused reloads counted %v, want 2", got)
	}
	if got := reloadCount(t, ts, "ok"); got != 1 {
		t.Errorf("ok reloads counted %v, want 1", got)
	}
	pub.publish(t, &paho.Publish{Topic: "a/2", QoS: 1, Payload: []byte("still")})
	if m := sub.expectMessage(t); string(m.Payload) != "still" {
		t.Fatalf("live subscriber got %q after refused reloads, want still", m.Payload)
	}
}

// TestReloadAuthUsers: a changed password refuses the old one to new
// connections; a client connected with it stays.
func TestReloadAuthUsers(t *testing.T) {
	dir := t.TempDir()
	users := func(password string) *configs.Config {
		cfg := testConfig(t)
		cfg.DataDir = dir
		cfg.Listeners[0].AllowAnonymous = refOf(false)
		cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, password)}}
		return cfg
	}
	login := func(id, password string) *paho.Connect {
		cp := v5Connect(id)
		cp.Username, cp.UsernameFlag = "alice", true
		cp.Password, cp.PasswordFlag = []byte(password), true
		return cp
	}
	ts := startServer(t, users("old"))
	live := connectV5(t, ts, login("auth-live", "old"))

	res := reload(t, ts, users("new"))
	if !slices.Equal(res.Changed, []string{"auth.users[alice].password_hash"}) {
		t.Fatalf("changed %q", res.Changed)
	}
	if _, ack, err := dialV5(t, ts, login("auth-old", "old")); err == nil || ack == nil || ack.ReasonCode != byte(mqtt.BadUserNameOrPassword) {
		t.Fatalf("old password after the reload: connack %+v, err %v; want 0x86", ack, err)
	}
	connectV5(t, ts, login("auth-new", "new"))
	live.roundTrip(t)
}

// TestReloadProfile: a new receive_maximum reaches new connections'
// CONNACK; a connection made before keeps its negotiated value.
func TestReloadProfile(t *testing.T) {
	dir := t.TempDir()
	withReceiveMax := func(n uint16) *configs.Config {
		cfg := testConfig(t)
		cfg.DataDir = dir
		cfg.MQTT.ReceiveMaximum = n
		return cfg
	}
	ts := startServer(t, withReceiveMax(20))
	old := connectV5(t, ts, v5Connect("prof-old"))
	if got := old.connack.Properties.ReceiveMaximum; got == nil || *got != 20 {
		t.Fatalf("receive maximum %v before the reload, want 20", got)
	}

	if res := reload(t, ts, withReceiveMax(7)); !slices.Equal(res.Changed, []string{"mqtt.receive_maximum"}) {
		t.Fatalf("changed %q", res.Changed)
	}
	cur := connectV5(t, ts, v5Connect("prof-new"))
	if got := cur.connack.Properties.ReceiveMaximum; got == nil || *got != 7 {
		t.Fatalf("receive maximum %v after the reload, want 7", got)
	}
	old.roundTrip(t)
	// Each connection keeps the profile it started with (set before
	// Server.track, so reading it under Server.mu is ordered).
	var got []uint16
	ts.mu.Lock()
	for c := range ts.conns {
		got = append(got, c.Channel().Profile().ReceiveMaximum)
	}
	ts.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, []uint16{7, 20}) {
		t.Errorf("the connections' receive maximums are %v, want [7 20]", got)
	}
}

// TestReloadAdmissionLimits: a raised limits.max_connections admits a
// client the old one refused; connected clients stay.
func TestReloadAdmissionLimits(t *testing.T) {
	dir := t.TempDir()
	withMax := func(n int) *configs.Config {
		cfg := testConfig(t)
		cfg.DataDir = dir
		cfg.Limits.MaxConnections = n
		return cfg
	}
	ts := startServer(t, withMax(1))
	first := connectV5(t, ts, v5Connect("adm-1"))
	if _, _, err := dialV5(t, ts, v5Connect("adm-2")); err == nil {
		t.Fatal("a second client got in under limits.max_connections 1")
	}
	reload(t, ts, withMax(2))
	connectV5(t, ts, v5Connect("adm-2"))
	first.roundTrip(t)
}

// TestReloadRefused: changes only a restart applies refuse the whole
// reload, naming the keys; nothing of it is applied.
func TestReloadRefused(t *testing.T) {
	dir := t.TempDir()
	base := func() *configs.Config {
		cfg := testConfig(t)
		cfg.DataDir = dir
		return cfg
	}
	ts := startServer(t, base())
	rows := []struct {
		name   string
		change func(*configs.Config)
		want   []string
	}{
		{"address", func(c *configs.Config) { c.Listeners[0].Address = "127.0.0.1:1" }, []string{"listeners[tcp].address"}},
		{"listener added", func(c *configs.Config) {
			c.Listeners = append(c.Listeners, configs.Listener{Name: "more", Type: "tcp", Address: "127.0.0.1:0"})
		}, []string{"listeners[more]"}},
		{"type", func(c *configs.Config) { c.Listeners[0].Type = "ws" }, []string{"listeners[tcp].type"}},
		{"data_dir and store", func(c *configs.Config) {
			c.DataDir = t.TempDir()
			c.Store.Durability = "memory"
		}, []string{"data_dir", "store.durability"}},
		{"ops with a live change", func(c *configs.Config) {
			c.Ops.Address = "127.0.0.1:0"
			c.MQTT.ReceiveMaximum = 3
		}, []string{"ops.address"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			cfg := base()
			row.change(cfg)
			res, err := ts.Reload(context.Background(), cfg)
			if !errors.Is(err, ErrNeedsRestart) {
				t.Fatalf("err %v, want ErrNeedsRestart", err)
			}
			if !slices.Equal(res.NeedsRestart, row.want) || len(res.Applied) > 0 {
				t.Fatalf("result %+v, want needs_restart %q", res, row.want)
			}
			for _, k := range row.want {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
		})
	}
	c := connectV5(t, ts, v5Connect("refused-check"))
	if got := c.connack.Properties.ReceiveMaximum; got != nil && *got == 3 {
		t.Error("a refused reload's receive_maximum was applied")
	}
}

// handshake dials addr with TLS offering ALPN offer and returns the
// serial number of the server's certificate and the negotiated protocol.
func handshake(tb testing.TB, addr string, offer []string) (int64, string) {
	tb.Helper()
	cc := reloadTLS()
	cc.NextProtos = offer
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: eventTimeout}, "tcp", addr, cc)
	if err != nil {
		tb.Fatalf("dialing tls offering %q: %v", offer, err)
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber.Int64(), st.NegotiatedProtocol
}

// TestReloadTLSListeners: after a certificate reload the tls and wss
// listeners keep their ALPN behaviour (mqtt when offered, http/1.1 for
// browsers on wss, no ALPN for foreign ids) with the new certificate; a
// source that cannot be built refuses the reload and keeps the one in
// force; reloads racing with handshakes and CONNECTs are safe.
func TestReloadTLSListeners(t *testing.T) {
	dir, certDir := t.TempDir(), t.TempDir()
	cert1, cert2 := writeServerCert(t, certDir, 2001), writeServerCert(t, certDir, 2002)
	config := func(cert configs.CertFiles, receiveMax uint16) *configs.Config {
		cfg := reloadBase(t, dir, cert)
		cfg.ACL = configs.ACL{Default: "allow"}
		cfg.MQTT.ReceiveMaximum = receiveMax
		cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "wss", Type: "wss", Address: "127.0.0.1:0", TLS: "main"})
		return cfg
	}
	ts := startServer(t, config(cert1, 10))
	reload(t, ts, config(cert2, 10))

	rows := []struct {
		listener string
		offer    []string
		want     string
	}{
		{"tls", []string{"mqtt"}, "mqtt"},
		{"tls", []string{"x-amzn-mqtt-ca"}, ""},
		{"tls", nil, ""},
		{"wss", []string{"h2", "http/1.1"}, "http/1.1"},
		{"wss", []string{"x-amzn-mqtt-ca"}, ""},
	}
	for _, row := range rows {
		serial, proto := handshake(t, ts.addr(t, row.listener), row.offer)
		if serial != 2002 || proto != row.want {
			t.Errorf("%s offering %q: serial %d, protocol %q; want 2002, %q", row.listener, row.offer, serial, proto, row.want)
		}
	}

	// A certificate file that does not parse: certs.New fails, nothing
	// changes.
	broken := filepath.Join(certDir, "broken.crt")
	if err := os.WriteFile(broken, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Reload(context.Background(), config(configs.CertFiles{Cert: broken, Key: cert1.Key}, 3)); err == nil {
		t.Fatal("a reload with an unparsable certificate succeeded")
	}
	if serial, _ := handshake(t, ts.addr(t, "tls"), nil); serial != 2002 {
		t.Fatalf("serial %d after a refused reload, want 2002", serial)
	}
	if c := connectV5(t, ts, v5Connect("tls-after-refused")); *c.connack.Properties.ReceiveMaximum != 10 {
		t.Fatalf("receive maximum %d after a refused reload, want 10", *c.connack.Properties.ReceiveMaximum)
	}

	// Reloads racing with clients connecting over TLS: every client gets
	// one of the two configurations, whole.
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 20 {
			cert, rm := cert1, uint16(11)
			if i%2 == 1 {
				cert, rm = cert2, 12
			}
			if _, err := ts.Reload(context.Background(), config(cert, rm)); err != nil {
				errc <- err
				return
			}
		}
	}()
	viaTLS := []clientOpt{viaListener("tls"), dialingWith(tlsDialer(reloadTLS()))}
	for i := range 10 {
		c := connectV5(t, ts, v5Connect(fmt.Sprintf("race-%d", i)), viaTLS...)
		if rm := *c.connack.Properties.ReceiveMaximum; rm < 10 || rm > 12 {
			t.Errorf("receive maximum %d during reloads", rm)
		}
	}
	<-done
	select {
	case err := <-errc:
		t.Fatalf("reload during connects: %v", err)
	default:
	}
}

// TestReloadACLFileWatcher: a reload that sets acl.file and changes
// acl.rules starts the polling of the file and keeps the new rules when
// the file changes (the watcher follows the acl section in force).
func TestReloadACLFileWatcher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acl.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - {permission: allow, action: all, topic: a/#}\n")
	config := func(withFile bool) *configs.Config {
		cfg := testConfig(t)
		cfg.DataDir = dir
		cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "old/#"}}}
		if withFile {
			cfg.ACL.Rules = []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "new/#"}}
			cfg.ACL.File, cfg.ACL.ReloadInterval = path, 10*time.Millisecond
		}
		return cfg
	}
	ts := startServer(t, config(false))
	c := connectV5(t, ts, v5Connect("acl-watch"))
	pub := func(topic string) byte {
		return c.publishCode(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	}
	if pub("old/x") == denied || pub("a/x") != denied {
		t.Fatal("decisions before the reload are wrong")
	}
	res := reload(t, ts, config(true))
	if want := []string{"acl.file", "acl.reload_interval", "acl.rules"}; !slices.Equal(res.Changed, want) {
		t.Fatalf("changed %q, want %q", res.Changed, want)
	}
	if pub("old/x") != denied || pub("new/x") == denied || pub("a/x") == denied {
		t.Fatal("decisions after the reload are wrong")
	}
	write("rules:\n  - {permission: allow, action: all, topic: b/#}\n")
	eventually(t, "the changed acl file to apply", func() bool { return pub("b/x") != denied && pub("a/x") == denied })
	if pub("new/x") == denied || pub("old/x") != denied {
		t.Error("the file's reload did not keep the reloaded acl.rules")
	}
}
