package web_test

// End-to-end tests of the ws/wss listeners and the page they mount, all
// against a gateway built with gateway.New: the page over HTTP from Go
// (TestPageOnListeners), MQTT.js in Node (TestNodeMQTTJS) and the page in
// headless Chromium (TestBrowserPage).
//
// The last two need node, the npm packages of build/ (npm ci there) and,
// for the browser, /usr/bin/chromium; .ci/run installs all three.
// Without them these tests skip, except under CI=true where they fail.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway"
	"edgemq/listeners/web"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// receiveMaximum is not a default, so a CONNACK showing it comes
	// from this configuration.
	receiveMaximum = 37
	testUser       = "web"
	testPassword   = "browser-secret"
	scriptTimeout  = 2 * time.Minute
)

// requireTools skips the test when a tool it needs is missing, or fails it
// under CI (CI=true), where .ci/run must have installed everything.
func requireTools(t *testing.T, browser bool) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: .ci/run should have installed it)", what)
		}
		t.Skip(what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed (Debian: apt-get install nodejs npm)")
	}
	mod := "playwright-core"
	if !browser {
		mod = "mqtt"
	}
	if _, err := os.Stat(filepath.Join("build", "node_modules", mod, "package.json")); err != nil {
		missing("listeners/web/build/node_modules/" + mod + " is missing: run npm ci in listeners/web/build")
	}
	if browser {
		if _, err := os.Stat(chromiumPath); err != nil {
			missing(chromiumPath + " is missing (Debian: apt-get install chromium)")
		}
	}
	return node
}

// e2eGateway is a running gateway with a ws and a wss listener, both
// serving the page and requiring the test user.
type e2eGateway struct {
	srv      *gateway.Server
	certPath string
}

func (g *e2eGateway) addr(t *testing.T, name string) string {
	t.Helper()
	a := g.srv.Addr(name)
	if a == nil {
		t.Fatalf("no listener %q", name)
	}
	return a.String()
}

func startGateway(t *testing.T) *e2eGateway {
	t.Helper()
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ops.Address = "" // no ops listener (default 127.0.0.1:9090)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.MQTT.ReceiveMaximum = receiveMaximum
	cfg.Auth.Users = []configs.User{{Username: testUser, PasswordHash: string(hash)}}
	cfg.TLS = map[string]configs.TLSSource{"dev": {Source: "self_signed", SelfSigned: configs.SelfSigned{Hosts: []string{"localhost", "127.0.0.1"}}}}
	cfg.Listeners = []configs.Listener{
		{Name: "ws", Type: "ws", Address: "127.0.0.1:0", AllowAnonymous: &no, WebSocket: configs.WebSocket{Page: true}},
		{Name: "wss", Type: "wss", Address: "127.0.0.1:0", AllowAnonymous: &no, TLS: "dev", WebSocket: configs.WebSocket{Page: true}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("invalid test config: %v", err)
	}
	srv, err := gateway.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), gateway.WithPage(web.Handler()))
	if err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	g := &e2eGateway{srv: srv, certPath: filepath.Join(cfg.DataDir, "certs", "selfsigned.crt")}
	if _, err := os.Stat(g.certPath); err != nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	return g
}

// spki returns the base64 SHA-256 of the certificate's public key, the
// form of Chromium's --ignore-certificate-errors-spki-list.
func spki(t *testing.T, certPath string) string {
	t.Helper()
	data, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// runScript runs a Node script of test/ with env added, failing the test
// with the script's output when it fails or outlives scriptTimeout.
func runScript(t *testing.T, node, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("test", script))
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s: timed out after %s; output:\n%s", script, scriptTimeout, out.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v; output:\n%s", script, err, out.String())
	}
	t.Logf("node %s (%s):\n%s", script, time.Since(start).Round(time.Millisecond), out.String())
}

// TestNodeMQTTJS exchanges a QoS 1 message with MQTT.js in Node over ws
// and wss, with MQTT 5 and 3.1.1 (test/node_client.mjs). The wss client
// trusts the gateway's self-signed certificate through MQTT.js's ca
// option.
func TestNodeMQTTJS(t *testing.T) {
	node := requireTools(t, false)
	g := startGateway(t)
	runScript(t, node, "node_client.mjs",
		"EDGEMQ_WS_URL=ws://"+g.addr(t, "ws")+"/mqtt",
		"EDGEMQ_WSS_URL=wss://"+g.addr(t, "wss")+"/mqtt",
		"EDGEMQ_CA="+g.certPath,
		"EDGEMQ_USERNAME="+testUser,
		"EDGEMQ_PASSWORD="+testPassword,
		"EDGEMQ_RECEIVE_MAXIMUM="+strconv.Itoa(receiveMaximum),
	)
}

// TestBrowserPage loads the embedded page from the wss listener in
// headless Chromium (playwright-core, test/browser.mjs), logs in, checks
// the CONNACK table and exchanges a message over wss.
func TestBrowserPage(t *testing.T) {
	node := requireTools(t, true)
	g := startGateway(t)
	env := []string{
		"EDGEMQ_PAGE_URL=https://" + g.addr(t, "wss") + "/",
		"EDGEMQ_SPKI=" + spki(t, g.certPath),
		"EDGEMQ_USERNAME=" + testUser,
		"EDGEMQ_PASSWORD=" + testPassword,
		"EDGEMQ_RECEIVE_MAXIMUM=" + strconv.Itoa(receiveMaximum),
		"CHROMIUM=" + chromiumPath,
		"EDGEMQ_SCREENSHOT=" + filepath.Join(os.TempDir(), fmt.Sprintf("edgemq-browser-%d.png", os.Getpid())),
	}
	runScript(t, node, "browser.mjs", env...)
}

// TestPageOnListeners checks, without Node, that a gateway started with
// gateway.WithPage serves the page at "/" of its ws and wss listeners and
// still serves MQTT at /mqtt.
func TestPageOnListeners(t *testing.T) {
	g := startGateway(t)
	certPEM, err := os.ReadFile(g.certPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("no certificate in " + g.certPath)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, base := range []string{"http://" + g.addr(t, "ws"), "https://" + g.addr(t, "wss")} {
		for _, row := range []struct {
			path        string
			status      int
			contentType string
		}{
			{"/", http.StatusOK, "text/html; charset=utf-8"},
			{"/mqtt.min.js", http.StatusOK, "text/javascript; charset=utf-8"},
			{"/app.js", http.StatusOK, "text/javascript; charset=utf-8"},
			{"/nope", http.StatusNotFound, ""},
			// Not an upgrade: the WebSocket handler refuses it, the
			// page does not answer it.
			{"/mqtt", http.StatusBadRequest, ""},
		} {
			res, err := client.Get(base + row.path)
			if err != nil {
				t.Fatalf("GET %s%s: %v", base, row.path, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != row.status {
				t.Errorf("GET %s%s: status %d, want %d", base, row.path, res.StatusCode, row.status)
			}
			if row.contentType != "" && res.Header.Get("Content-Type") != row.contentType {
				t.Errorf("GET %s%s: Content-Type %q, want %q", base, row.path, res.Header.Get("Content-Type"), row.contentType)
			}
		}
	}
}
