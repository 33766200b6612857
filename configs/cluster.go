package configs

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Cluster makes this node one of several edgemq nodes acting as one
// broker, coordinated through NATS with JetStream (issue 15). With Node
// empty (the default) edgemq is a single node and nothing here is used.
type Cluster struct {
	// Node is this node's name, unique in the cluster: letters, digits,
	// '-' and '_', at most 64. It also names the embedded NATS server.
	Node string `yaml:"node"`
	// NATS selects and configures the NATS system the nodes share.
	NATS ClusterNATS `yaml:"nats"`
	// Replicas is how many NATS servers hold each JetStream stream and KV
	// bucket of the cluster (1 to 5). An acknowledged QoS 1/2 message is
	// on a majority of them.
	Replicas int `yaml:"replicas"`
	// SyncInterval is how often the embedded NATS server syncs JetStream
	// writes to disk: "always" (every write, before it is acknowledged)
	// or a duration. An external NATS server's own setting applies there.
	SyncInterval string `yaml:"sync_interval"`
	// HeartbeatInterval is how often the node renews its liveness record.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// LivenessTTL is how long the liveness record outlives its last
	// renewal; after it the other nodes take this node's sessions over.
	LivenessTTL time.Duration `yaml:"liveness_ttl"`
	// Advertise is the host:port at which MQTT clients reach this node,
	// as the other nodes hand it out: the Server Reference of the v5
	// DISCONNECT 0x9C (Use another server) a draining or cut-off node
	// sends. Empty: this node is never handed out.
	Advertise string `yaml:"advertise"`
	// Shared configures the shared subscription groups across nodes.
	Shared ClusterShared `yaml:"shared"`
}

// ClusterShared is how shared subscription groups ("$share/...") hand
// out QoS 1/2 messages across the nodes.
type ClusterShared struct {
	// DurableGroups caps the groups whose QoS 1/2 messages a JetStream
	// consumer of the group hands out, redelivering what a node took and
	// did not record before it died; the groups beyond go through a
	// NATS queue group alone. 0: no group has one.
	DurableGroups int `yaml:"durable_groups"`
	// AckWait is how long such a consumer waits for a node to confirm
	// that a member's record lists a message before it hands the
	// message to a node again.
	AckWait time.Duration `yaml:"ack_wait"`
}

// Enabled reports whether the cluster section is in use.
func (c Cluster) Enabled() bool { return c.Node != "" }

// Embedded reports whether the node runs its own NATS server: when no
// external URL is given.
func (c Cluster) Embedded() bool { return len(c.NATS.URLs) == 0 }

// StoreDir returns the embedded server's JetStream directory: store_dir,
// relative to dataDir unless absolute.
func (c Cluster) StoreDir(dataDir string) string {
	if filepath.IsAbs(c.NATS.Embedded.StoreDir) {
		return c.NATS.Embedded.StoreDir
	}
	return filepath.Join(dataDir, c.NATS.Embedded.StoreDir)
}

// SyncAlways reports whether SyncInterval is "always"; otherwise Sync is
// the interval.
func (c Cluster) SyncAlways() bool { return c.SyncInterval == SyncAlways }

// SyncEvery returns the sync interval when it is not "always", else 0.
func (c Cluster) SyncEvery() time.Duration {
	d, err := time.ParseDuration(c.SyncInterval)
	if err != nil {
		return 0
	}
	return d
}

// SyncAlways is the sync_interval that syncs every JetStream write to
// disk before acknowledging it.
const SyncAlways = "always"

// ClusterNATS is the NATS system of a cluster: external servers (URLs)
// or a server embedded in every node (Embedded).
type ClusterNATS struct {
	// URLs are the external NATS servers (nats://, tls://, ws://, wss://
	// host:port). Empty: run the embedded server.
	URLs []string `yaml:"urls"`
	// TLS configures the client's TLS to external servers.
	TLS NATSTLS `yaml:"tls"`
	// CredentialsFile is a NATS user credentials (.creds) file.
	CredentialsFile string `yaml:"credentials_file"`
	// NKeySeedFile is a file holding an NKey user seed.
	NKeySeedFile string `yaml:"nkey_seed_file"`
	// Token is a NATS authentication token.
	Token string `yaml:"token"`
	// TokenFile is a file holding the token (read at start, trimmed).
	TokenFile string `yaml:"token_file"`
	// PingInterval is how often the client pings its server; two
	// unanswered pings mark the link down.
	PingInterval time.Duration `yaml:"ping_interval"`
	// Embedded configures the embedded NATS server.
	Embedded EmbeddedNATS `yaml:"embedded"`
}

// NATSTLS is the NATS client's TLS.
type NATSTLS struct {
	// CA is a PEM file of the authorities to verify servers with; empty
	// uses the system's.
	CA string `yaml:"ca"`
	// Cert and Key are the PEM client certificate and key, both or none.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// EmbeddedNATS is the NATS server a node runs itself.
type EmbeddedNATS struct {
	// ClientListen is the host:port of its client listener (this node
	// connects to it; tools may too).
	ClientListen string `yaml:"client_listen"`
	// ClusterListen is the host:port of its route listener, where the
	// other nodes' servers connect. Required with Routes.
	ClusterListen string `yaml:"cluster_listen"`
	// Routes are the host:port cluster listeners of the other nodes'
	// servers (listing this node's own too is allowed, so that every node
	// can share one list). Empty: a NATS server of its own, Replicas 1.
	Routes []string `yaml:"routes"`
	// StoreDir is the JetStream storage directory, relative to data_dir
	// unless absolute.
	StoreDir string `yaml:"store_dir"`
}

// nodeName is what cluster.node allows.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// validateCluster checks the cluster section when cluster.node is set.
func (c *Config) validateCluster(ps *problems) {
	cl := c.Cluster
	if !cl.Enabled() {
		return
	}
	if !nodeName.MatchString(cl.Node) {
		ps.add("cluster.node", "%q is not a node name: letters, digits, '-' and '_', at most 64, starting with a letter or digit", cl.Node)
	}
	if cl.Replicas < 1 || cl.Replicas > 5 {
		ps.add("cluster.replicas", "%d is not 1 to 5 (JetStream's limit)", cl.Replicas)
	}
	if cl.SyncInterval != SyncAlways {
		if d, err := time.ParseDuration(cl.SyncInterval); err != nil || d <= 0 {
			ps.add("cluster.sync_interval", "%q is neither %q nor a positive duration", cl.SyncInterval, SyncAlways)
		}
	}
	if cl.HeartbeatInterval <= 0 {
		ps.add("cluster.heartbeat_interval", "%s must be above 0", cl.HeartbeatInterval)
	}
	switch {
	case cl.LivenessTTL < time.Second:
		ps.add("cluster.liveness_ttl", "%s is below 1s, the finest TTL JetStream keeps", cl.LivenessTTL)
	case cl.HeartbeatInterval > 0 && cl.LivenessTTL < 3*cl.HeartbeatInterval:
		ps.add("cluster.liveness_ttl", "%s must be at least 3 heartbeat_interval (%s), so that one late renewal does not lapse the record", cl.LivenessTTL, 3*cl.HeartbeatInterval)
	}
	if cl.Advertise != "" && (!hostPort(cl.Advertise) || strings.ContainsFunc(cl.Advertise, unicode.IsSpace)) {
		ps.add("cluster.advertise", "%q is not host:port", cl.Advertise)
	}
	if cl.Shared.DurableGroups < 0 {
		ps.add("cluster.shared.durable_groups", "%d is below 0", cl.Shared.DurableGroups)
	}
	if cl.Shared.DurableGroups > 0 && cl.Shared.AckWait < time.Second {
		ps.add("cluster.shared.ack_wait", "%s is below 1s: a node waiting on its NATS server would see its messages handed out again", cl.Shared.AckWait)
	}
	n := cl.NATS
	switch {
	case n.PingInterval <= 0:
		ps.add("cluster.nats.ping_interval", "%s must be above 0", n.PingInterval)
	case cl.LivenessTTL >= time.Second && 2*n.PingInterval >= cl.LivenessTTL:
		ps.add("cluster.nats.ping_interval", "%s must be below half of liveness_ttl (%s): a lost link is noticed after two pings, and the node must close its clients before its records lapse", n.PingInterval, cl.LivenessTTL)
	}
	if cl.Embedded() {
		c.validateEmbeddedNATS(ps)
		return
	}
	for i, u := range n.URLs {
		p, err := url.Parse(u)
		switch {
		case err != nil:
			ps.add(fmt.Sprintf("cluster.nats.urls[%d]", i), "%q is not a URL: %v", u, err)
		case !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme):
			ps.add(fmt.Sprintf("cluster.nats.urls[%d]", i), "%q: want a nats://, tls://, ws:// or wss:// URL", u)
		case p.Host == "":
			ps.add(fmt.Sprintf("cluster.nats.urls[%d]", i), "%q has no host", u)
		}
	}
	if (n.TLS.Cert == "") != (n.TLS.Key == "") {
		ps.add("cluster.nats.tls", "set cert and key together")
	}
	set := 0
	for _, s := range []string{n.CredentialsFile, n.NKeySeedFile, n.Token, n.TokenFile} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		ps.add("cluster.nats", "set at most one of credentials_file, nkey_seed_file, token and token_file")
	}
	e := n.Embedded
	if e.ClusterListen != "" || len(e.Routes) > 0 {
		ps.add("cluster.nats.embedded", "is for the embedded server; with urls, edgemq connects to those servers and runs none")
	}
}

// validateEmbeddedNATS checks cluster.nats.embedded.
func (c *Config) validateEmbeddedNATS(ps *problems) {
	cl := c.Cluster
	e := cl.NATS.Embedded
	if !hostPort(e.ClientListen) {
		ps.add("cluster.nats.embedded.client_listen", "%q is not host:port", e.ClientListen)
	}
	if e.ClusterListen != "" && !hostPort(e.ClusterListen) {
		ps.add("cluster.nats.embedded.cluster_listen", "%q is not host:port", e.ClusterListen)
	}
	if len(e.Routes) > 0 && e.ClusterListen == "" {
		ps.add("cluster.nats.embedded.cluster_listen", "is required with routes: the other servers connect to it")
	}
	for i, r := range e.Routes {
		if !hostPort(r) {
			ps.add(fmt.Sprintf("cluster.nats.embedded.routes[%d]", i), "%q is not host:port", r)
		}
	}
	if e.StoreDir == "" {
		ps.add("cluster.nats.embedded.store_dir", "is required")
	}
	if servers := len(e.Routes) + 1; cl.Replicas > servers && cl.Replicas <= 5 {
		ps.add("cluster.replicas", "%d replicas need at least %d NATS servers; embedded.routes names %d other: lower replicas or add routes", cl.Replicas, cl.Replicas, len(e.Routes))
	}
	n := cl.NATS
	if n.CredentialsFile != "" || n.NKeySeedFile != "" || n.Token != "" || n.TokenFile != "" || n.TLS != (NATSTLS{}) {
		ps.add("cluster.nats", "tls, credentials_file, nkey_seed_file, token and token_file are for external servers (urls); the embedded server is reached on its own client listener")
	}
}

// hostPort reports whether s is host:port with a port.
func hostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}
