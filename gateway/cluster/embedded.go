package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"edgemq/configs"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// ClusterName is the NATS cluster name every embedded server uses: the
// servers of one edgemq cluster route only to each other.
const ClusterName = "edgemq"

// maxControlLine lets a subject carry the longest MQTT topic (65535
// bytes) escaped (up to three bytes each) with room for the rest of the
// protocol line. NATS's default, 4 KiB, would close the connection of a
// node publishing a long topic.
const maxControlLine = 1 << 18

// EmbeddedOptions configure an embedded NATS server.
type EmbeddedOptions struct {
	// Name is the server's name, the node's.
	Name string
	// ClientListen is the host:port of the client listener; port 0 picks
	// a free port.
	ClientListen string
	// ClusterListen is the host:port of the route listener; port 0 picks a
	// free port. Empty with no Routes: a server of its own.
	ClusterListen string
	// Routes are the host:port route listeners of the other servers.
	Routes []string
	// StoreDir is the JetStream storage directory.
	StoreDir string
	// SyncAlways syncs every JetStream write before acknowledging it;
	// otherwise every SyncInterval.
	SyncAlways   bool
	SyncInterval time.Duration
	// NoAdvertise keeps the server from telling its clients the other
	// servers' addresses, so that a client reconnects only to the URLs it
	// was given (a test's proxy).
	NoAdvertise bool
}

// EmbeddedOptionsFrom returns the options of the configured embedded
// server; dataDir is the configuration's data_dir.
func EmbeddedOptionsFrom(c configs.Cluster, dataDir string) EmbeddedOptions {
	e := c.NATS.Embedded
	return EmbeddedOptions{
		Name:          c.Node,
		ClientListen:  e.ClientListen,
		ClusterListen: e.ClusterListen,
		Routes:        e.Routes,
		StoreDir:      c.StoreDir(dataDir),
		SyncAlways:    c.SyncAlways(),
		SyncInterval:  c.SyncEvery(),
	}
}

// Embedded is a running embedded NATS server with JetStream.
type Embedded struct {
	srv *server.Server
}

// listenAddr splits host:port, port 0 meaning a free port.
func listenAddr(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// natsOptions translates o into the server's options.
func (o EmbeddedOptions) natsOptions() (*server.Options, error) {
	host, port, err := listenAddr(o.ClientListen)
	if err != nil {
		return nil, fmt.Errorf("parsing client listen %q: %w", o.ClientListen, err)
	}
	opts := &server.Options{
		ServerName:     o.Name,
		Host:           host,
		Port:           port,
		NoSigs:         true,
		MaxControlLine: maxControlLine,
		MaxPayload:     MaxPayload,
		JetStream:      true,
		StoreDir:       o.StoreDir,
		SyncAlways:     o.SyncAlways,
		SyncInterval:   o.SyncInterval,
	}
	if o.SyncAlways && opts.SyncInterval == 0 {
		opts.SyncInterval = 2 * time.Minute // unused with SyncAlways, but must be set
	}
	if o.ClusterListen == "" {
		if len(o.Routes) > 0 {
			return nil, errors.New("routes without a cluster listen address")
		}
		return opts, nil
	}
	chost, cport, err := listenAddr(o.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("parsing cluster listen %q: %w", o.ClusterListen, err)
	}
	opts.Cluster = server.ClusterOpts{Name: ClusterName, Host: chost, Port: cport, NoAdvertise: o.NoAdvertise}
	for _, r := range o.Routes {
		u, err := url.Parse("nats-route://" + r)
		if err != nil {
			return nil, fmt.Errorf("parsing route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// MaxPayload is the embedded server's largest message (NATS's default is
// 1 MiB, the size of the largest MQTT packet edgemq accepts by default,
// which its headers would push over): 8 MiB, what NATS advises as the
// most.
const MaxPayload = 8 << 20

// StartEmbedded starts an embedded NATS server and returns once it accepts
// clients, or with the error that stopped it, or ctx's. Its log lines go
// to log. The caller must Shutdown it.
func StartEmbedded(ctx context.Context, o EmbeddedOptions, log *zap.Logger) (*Embedded, error) {
	opts, err := o.natsOptions()
	if err != nil {
		return nil, fmt.Errorf("configuring embedded nats: %w", err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating embedded nats: %w", err)
	}
	nl := newNATSLogger(log)
	srv.SetLoggerV2(nl, log.Core().Enabled(zap.DebugLevel), false, false)
	go srv.Start()
	e := &Embedded{srv: srv}
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		select {
		case err := <-nl.fatal:
			e.shutdown()
			return nil, fmt.Errorf("starting embedded nats: %w", err)
		case <-ctx.Done():
			e.shutdown()
			return nil, fmt.Errorf("starting embedded nats: %w", ctx.Err())
		default:
		}
	}
	return e, nil
}

func (e *Embedded) shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Shutdown stops the server: its clients and routes are closed and
// JetStream's state is flushed. It returns ctx's error when ctx ends
// first; the shutdown then completes in the background.
func (e *Embedded) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.shutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutting down embedded nats: %w", ctx.Err())
	}
}

// Name returns the server's name.
func (e *Embedded) Name() string { return e.srv.Name() }

// ClientURL returns the nats:// URL of the client listener.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// ClusterAddr returns the host:port of the route listener, or "" when
// the server has none.
func (e *Embedded) ClusterAddr() string {
	if a := e.srv.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Remotes returns how many other servers this one has routes to.
func (e *Embedded) Remotes() int { return e.srv.NumRemotes() }

// Interest returns how many subscriptions, local or across routes, this
// server holds for subject in the global account: 0 means a message
// published to it here reaches no one.
func (e *Embedded) Interest(subject string) int {
	return e.srv.GlobalAccount().Interest(subject)
}

// JetStreamMeta reports whether this server leads the JetStream meta
// group and, when it does, the names of the servers that group has
// online (a single server is its own leader); current says whether this
// server is a current member of the group.
func (e *Embedded) JetStreamMeta() (leader bool, peers []string, current bool) {
	current = e.srv.JetStreamIsCurrent()
	if !e.srv.JetStreamIsClustered() {
		return e.srv.JetStreamEnabled(), []string{e.srv.Name()}, current
	}
	if !e.srv.JetStreamIsLeader() {
		return false, nil, current
	}
	return true, e.srv.JetStreamClusterPeers(), current
}

// Server returns the NATS server, for tests and diagnostics (monitoring,
// counters); the node must not reconfigure it.
func (e *Embedded) Server() *server.Server { return e.srv }
