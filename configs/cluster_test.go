package configs

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Without a cluster section edgemq is a single node: the default has no
// node name, so nothing of the cluster is validated or used.
func TestClusterOffByDefault(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.Cluster.Enabled() {
		t.Fatalf("default cluster.node = %q, want off", def.Cluster.Node)
	}
	// The documented defaults a cluster section inherits.
	cl := def.Cluster
	if cl.Replicas != 3 || cl.SyncInterval != "always" || !cl.SyncAlways() ||
		cl.HeartbeatInterval != time.Second || cl.LivenessTTL != 10*time.Second ||
		cl.NATS.PingInterval != 2*time.Second || cl.NATS.Embedded.StoreDir != "nats" ||
		cl.NATS.Embedded.ClientListen != "127.0.0.1:4222" ||
		cl.Shared.DurableGroups != 100 || cl.Shared.AckWait != 30*time.Second {
		t.Errorf("cluster defaults = %+v", cl)
	}
}

const embedded3 = `
data_dir: /var/lib/edgemq
cluster:
  node: node-1
  nats:
    embedded:
      client_listen: 127.0.0.1:4231
      cluster_listen: 127.0.0.1:6231
      routes: [127.0.0.1:6231, 127.0.0.1:6232, 127.0.0.1:6233]
`

func TestClusterValid(t *testing.T) {
	cfg := parse(t, embedded3)
	cl := cfg.Cluster
	if !cl.Enabled() || !cl.Embedded() {
		t.Fatalf("enabled %v embedded %v, want both", cl.Enabled(), cl.Embedded())
	}
	if got := cl.StoreDir(cfg.DataDir); got != filepath.Join("/var/lib/edgemq", "nats") {
		t.Errorf("StoreDir = %q", got)
	}

	ext := parse(t, `
cluster:
  node: edge_2
  replicas: 5
  sync_interval: 1s
  nats:
    urls: [nats://n1:4222, tls://n2:4222]
    tls: {ca: ca.pem, cert: c.pem, key: k.pem}
    credentials_file: edge.creds
`)
	if ext.Cluster.Embedded() || ext.Cluster.SyncAlways() || ext.Cluster.SyncEvery() != time.Second {
		t.Errorf("external cluster = %+v", ext.Cluster)
	}
	abs := parse(t, "cluster:\n  node: n\n  replicas: 1\n  nats:\n    embedded:\n      store_dir: /srv/js\n")
	if got := abs.Cluster.StoreDir("./data"); got != "/srv/js" {
		t.Errorf("absolute StoreDir = %q", got)
	}
}

// Each mistake is reported at its key, with its line, in one pass.
func TestClusterProblems(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"bad node name", "cluster:\n  node: 'node 1'\n  replicas: 1\n",
			[]string{"test.yaml:2: cluster.node: \"node 1\" is not a node name"}},
		{"replicas", "cluster:\n  node: n\n  replicas: 7\n",
			[]string{"test.yaml:3: cluster.replicas: 7 is not 1 to 5"}},
		{"replicas above servers", "cluster:\n  node: n\n",
			[]string{"cluster.replicas: 3 replicas need at least 3 NATS servers; embedded.routes names 0 other"}},
		{"sync interval", "cluster:\n  node: n\n  replicas: 1\n  sync_interval: sometimes\n",
			[]string{"test.yaml:4: cluster.sync_interval: \"sometimes\" is neither \"always\" nor a positive duration"}},
		{"ttl below heartbeats", "cluster:\n  node: n\n  replicas: 1\n  heartbeat_interval: 2s\n  liveness_ttl: 5s\n  nats:\n    ping_interval: 1s\n",
			[]string{"test.yaml:5: cluster.liveness_ttl: 5s must be at least 3 heartbeat_interval (6s)"}},
		{"ttl below a second", "cluster:\n  node: n\n  replicas: 1\n  heartbeat_interval: 100ms\n  liveness_ttl: 500ms\n",
			[]string{"cluster.liveness_ttl: 500ms is below 1s"}},
		{"ping too slow", "cluster:\n  node: n\n  replicas: 1\n  nats:\n    ping_interval: 5s\n",
			[]string{"test.yaml:5: cluster.nats.ping_interval: 5s must be below half of liveness_ttl (10s)"}},
		{"negative durable groups", "cluster:\n  node: n\n  replicas: 1\n  shared:\n    durable_groups: -1\n",
			[]string{"test.yaml:5: cluster.shared.durable_groups: -1 is below 0"}},
		{"ack wait too short", "cluster:\n  node: n\n  replicas: 1\n  shared:\n    ack_wait: 500ms\n",
			[]string{"test.yaml:5: cluster.shared.ack_wait: 500ms is below 1s"}},
		{"routes without listen", "cluster:\n  node: n\n  nats:\n    embedded:\n      routes: [a:1, b:2]\n",
			[]string{"cluster.nats.embedded.cluster_listen: is required with routes"}},
		{"bad route", "cluster:\n  node: n\n  replicas: 1\n  nats:\n    embedded:\n      cluster_listen: :6222\n      routes: [nats-host]\n",
			[]string{"cluster.nats.embedded.routes[0]: \"nats-host\" is not host:port"}},
		{"bad client listen", "cluster:\n  node: n\n  replicas: 1\n  nats:\n    embedded:\n      client_listen: localhost\n",
			[]string{"cluster.nats.embedded.client_listen: \"localhost\" is not host:port"}},
		{"client auth on embedded", "cluster:\n  node: n\n  replicas: 1\n  nats:\n    token: s3cret\n",
			[]string{"cluster.nats: tls, credentials_file, nkey_seed_file, token and token_file are for external servers"}},
		{"bad url", "cluster:\n  node: n\n  nats:\n    urls: ['http://n1:4222', 'nats://']\n",
			[]string{"cluster.nats.urls[0]: \"http://n1:4222\": want a nats://", "cluster.nats.urls[1]: \"nats://\" has no host"}},
		{"cert without key", "cluster:\n  node: n\n  nats:\n    urls: [nats://n1:4222]\n    tls: {cert: c.pem}\n",
			[]string{"cluster.nats.tls: set cert and key together"}},
		{"two credentials", "cluster:\n  node: n\n  nats:\n    urls: [nats://n1:4222]\n    token: t\n    nkey_seed_file: seed\n",
			[]string{"cluster.nats: set at most one of credentials_file, nkey_seed_file, token and token_file"}},
		{"embedded with urls", "cluster:\n  node: n\n  nats:\n    urls: [nats://n1:4222]\n    embedded:\n      routes: [a:1]\n",
			[]string{"cluster.nats.embedded: is for the embedded server"}},
		{"bad advertise", "cluster:\n  node: n\n  replicas: 1\n  advertise: mqtt1.example.com\n",
			[]string{"test.yaml:4: cluster.advertise: \"mqtt1.example.com\" is not host:port"}},
		{"several at once", "cluster:\n  node: n\n  replicas: 0\n  sync_interval: never\n",
			[]string{"2 problems", "cluster.replicas: 0 is not 1 to 5", "cluster.sync_interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tc.src), tc.want...)
		})
	}
}

// A cluster mistake is one of the problems Validate lists, not the end
// of validation.
func TestClusterProblemsJoinOthers(t *testing.T) {
	msg := parseErr(t, "log:\n  level: loud\ncluster:\n  node: n\n  replicas: 9\n")
	wantContains(t, msg, "log.level", "cluster.replicas")
	if !strings.Contains(msg, "2 problems") {
		t.Errorf("error %q, want 2 problems", msg)
	}
}

// The three example nodes validate, share one routes list that names
// every node's cluster listener, and bind no address twice.
func TestClusterExamples(t *testing.T) {
	seen := map[string]string{}
	var routes []string
	for i := 1; i <= 3; i++ {
		f := filepath.Join("examples", "cluster", "node"+string(rune('0'+i))+".yaml")
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cl := cfg.Cluster
		if !cl.Enabled() || !cl.Embedded() || cl.Replicas != 3 {
			t.Errorf("%s: cluster %+v", f, cl)
		}
		addrs := []string{cfg.Ops.Address, cl.NATS.Embedded.ClientListen, cl.NATS.Embedded.ClusterListen, cfg.DataDir, cl.Node}
		for _, l := range cfg.Listeners {
			addrs = append(addrs, l.Address)
		}
		for _, a := range addrs {
			if prev, dup := seen[a]; dup {
				t.Errorf("%s reuses %s of %s", f, a, prev)
			}
			seen[a] = f
		}
		if routes == nil {
			routes = cl.NATS.Embedded.Routes
		} else if strings.Join(routes, ",") != strings.Join(cl.NATS.Embedded.Routes, ",") {
			t.Errorf("%s routes %v, node1 has %v", f, cl.NATS.Embedded.Routes, routes)
		}
		if !slices.Contains(routes, cl.NATS.Embedded.ClusterListen) {
			t.Errorf("%s: routes %v lack its cluster listener %s", f, routes, cl.NATS.Embedded.ClusterListen)
		}
	}
}
