package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"edgemq/configs"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// LinkOptions configure the node's client connection to NATS.
type LinkOptions struct {
	// URLs are the servers to connect to.
	URLs []string
	// Name is the connection's name, shown by the servers (the node's).
	Name string
	// PingInterval is how often the client pings; MaxPingsOut unanswered
	// pings mark the link down.
	PingInterval time.Duration
	// MaxPingsOut defaults to 2.
	MaxPingsOut int
	// ReconnectWait is the pause between reconnect attempts to one
	// server; 0 means PingInterval/4, at least 10ms.
	ReconnectWait time.Duration
	// OnlyURLs ignores the servers the cluster advertises, so the link
	// goes only to URLs (the embedded server: the node's own).
	OnlyURLs bool
	// CA, Cert and Key are the TLS files (PEM); empty: none.
	CA, Cert, Key string
	// CredentialsFile, NKeySeedFile, Token and TokenFile authenticate;
	// at most one is set.
	CredentialsFile, NKeySeedFile, Token, TokenFile string
	// PublishConns is how many more connections the link opens for the
	// messages stream's publishes (PublishConn, link_publish.go); 0
	// sends them on the link's own connection.
	PublishConns int
	// OnUp and OnDown are called on each change of the link's state, in
	// order, on one goroutine of the NATS client: they must not block.
	// OnUp is also called for the first connection. Either may be nil.
	OnUp, OnDown func()
}

// LinkOptionsFrom returns the link options of a configured cluster;
// embeddedURL is the embedded server's client URL when it runs one.
func LinkOptionsFrom(c configs.Cluster, embeddedURL string) LinkOptions {
	n := c.NATS
	o := LinkOptions{
		URLs:            n.URLs,
		Name:            "edgemq " + c.Node,
		PingInterval:    n.PingInterval,
		CA:              n.TLS.CA,
		Cert:            n.TLS.Cert,
		Key:             n.TLS.Key,
		CredentialsFile: n.CredentialsFile,
		NKeySeedFile:    n.NKeySeedFile,
		Token:           n.Token,
		TokenFile:       n.TokenFile,
		PublishConns:    DefaultPublishConns,
	}
	if c.Embedded() {
		o.URLs, o.OnlyURLs = []string{embeddedURL}, true
	}
	return o
}

// Link is the node's connection to NATS. It reconnects without limit;
// Up says whether it is connected now.
type Link struct {
	nc *nats.Conn
	// pubs are the stream publishes' connections (link_publish.go).
	pubs []*nats.Conn
	up   atomic.Bool
	log  *zap.Logger
}

// natsOptions returns the nats.go options of o for the link's own
// connection, reading the token file.
func (o LinkOptions) natsOptions(l *Link, connected chan<- struct{}) ([]nats.Option, error) {
	opts, err := o.clientOptions()
	if err != nil {
		return nil, err
	}
	var first atomic.Bool
	return append(opts,
		nats.ConnectHandler(func(*nats.Conn) {
			if first.CompareAndSwap(false, true) {
				close(connected)
			}
			l.setUp(true, o.OnUp, o.OnDown)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { l.setUp(true, o.OnUp, o.OnDown) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.log.Warn("nats link down", zap.Error(err))
			l.setUp(false, o.OnUp, o.OnDown)
		}),
		nats.ClosedHandler(func(*nats.Conn) { l.setUp(false, o.OnUp, o.OnDown) }),
	), nil
}

// clientOptions returns the nats.go options every connection of the
// link has (servers, pings, reconnects, TLS, credentials), reading the
// token file.
func (o LinkOptions) clientOptions() ([]nats.Option, error) {
	wait := o.ReconnectWait
	if wait == 0 {
		wait = max(o.PingInterval/4, 10*time.Millisecond)
	}
	pings := o.MaxPingsOut
	if pings == 0 {
		pings = 2
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.PingInterval(o.PingInterval),
		nats.MaxPingsOutstanding(pings),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/4, wait/4),
		nats.RetryOnFailedConnect(true),
	}
	if o.OnlyURLs {
		opts = append(opts, nats.IgnoreDiscoveredServers())
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	switch {
	case o.CredentialsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredentialsFile))
	case o.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading nkey seed: %w", err)
		}
		opts = append(opts, opt)
	case o.TokenFile != "":
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("reading token file: %s is empty", o.TokenFile)
		}
		opts = append(opts, nats.Token(tok))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	}
	return opts, nil
}

// Connect connects to NATS and returns once connected, or with ctx's
// error (the attempt is then abandoned). Later losses of the link are
// repaired in the background without limit; Close ends it.
func Connect(ctx context.Context, o LinkOptions, log *zap.Logger) (*Link, error) {
	l := &Link{log: log}
	connected := make(chan struct{})
	opts, err := o.natsOptions(l, connected)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	nc, err := dial(ctx, o.URLs, opts, connected)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	l.nc = nc
	if l.pubs, err = o.openPublishConns(ctx, log); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	log.Info("nats link up", zap.String("server", nc.ConnectedUrlRedacted()))
	return l, nil
}

// dial connects to urls with opts, whose ConnectHandler closes
// connected, and returns once connected, or with ctx's error (the
// attempt is then abandoned).
func dial(ctx context.Context, urls []string, opts []nats.Option, connected <-chan struct{}) (*nats.Conn, error) {
	// nats.Connect makes its first attempt before returning, which ctx
	// cannot bound: it runs aside, and is closed if ctx ends first.
	type result struct {
		nc  *nats.Conn
		err error
	}
	res := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		res <- result{nc, err}
	}()
	var nc *nats.Conn
	select {
	case r := <-res:
		if r.err != nil {
			return nil, r.err
		}
		nc = r.nc
	case <-ctx.Done():
		go func() {
			if r := <-res; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
	select {
	case <-connected:
		return nc, nil
	case <-ctx.Done():
		nc.Close()
		return nil, ctx.Err()
	}
}

// setUp records a state and calls the matching callback on a change.
// The NATS client calls its handlers on one goroutine, in order.
func (l *Link) setUp(up bool, onUp, onDown func()) {
	if l.up.Swap(up) == up {
		return
	}
	if up && onUp != nil {
		onUp()
	}
	if !up && onDown != nil {
		onDown()
	}
}

// Up reports whether the link is connected now.
func (l *Link) Up() bool { return l.up.Load() }

// Conn returns the NATS connection, for the broker's subscriptions and
// publishes.
func (l *Link) Conn() *nats.Conn { return l.nc }

// Close closes the connection, flushing what is buffered first within
// ctx's deadline.
func (l *Link) Close(ctx context.Context) {
	if deadline, ok := ctx.Deadline(); ok {
		if d := time.Until(deadline); d > 0 {
			_ = l.nc.FlushTimeout(d)
		}
	}
	l.closePublishConns(ctx)
	l.nc.Close()
}
