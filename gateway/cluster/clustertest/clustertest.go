// Package clustertest starts real NATS clusters for the tests of the
// cluster packages: N embedded servers (gateway/cluster) with routes on
// free loopback ports, each with its own store directory; a TCP proxy
// that cuts and heals a client's link; and waits for routes, JetStream
// and interest by asking the servers, never by sleeping.
//
// It may import, of ours: configs and gateway/cluster.
package clustertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Timeout bounds every wait of this package.
const Timeout = 20 * time.Second

// pollEvery is how often a wait asks the servers again.
const pollEvery = 5 * time.Millisecond

// Cluster is a running NATS cluster of embedded servers.
type Cluster struct {
	// Servers are the cluster's servers, named n1, n2, ...
	Servers []*cluster.Embedded
}

// FreeAddrs reserves n free loopback ports and returns them as
// host:port, for servers that bind them later. They are taken below the
// kernel's ephemeral range (ip_local_port_range): a port the kernel
// handed out at :0 and took back goes at once to any outgoing connection
// on the machine (a parallel test's), and the server's later bind then
// fails with "address already in use"; ports below the range are taken
// only by an explicit bind.
func FreeAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 11024 {
				low = v
			}
		}
	}
	addrs := make([]string, 0, n)
	var ls []net.Listener
	for try := 0; len(addrs) < n; try++ {
		if try == 100*n {
			tb.Fatalf("reserving %d ports below %d: only %d free", n, low, len(addrs))
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(low-10000))))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return addrs
}

// Start starts n embedded servers routed to each other (n = 1: one
// server of its own), waits until every route is up and JetStream has a
// meta leader seeing all n, and shuts them down when the test ends.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return StartWith(tb, n, nil)
}

// StartWith is Start with setup, when not nil, changing server i's
// options first (e.g. NoAdvertise, so that a client linked through a
// Proxy cannot reconnect around it).
func StartWith(tb testing.TB, n int, setup func(i int, o *cluster.EmbeddedOptions)) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var routes []string
	if n > 1 {
		routes = FreeAddrs(tb, n)
	}
	c := &Cluster{}
	base := tb.TempDir()
	for i := range n {
		o := cluster.EmbeddedOptions{
			Name:         fmt.Sprintf("n%d", i+1),
			ClientListen: "127.0.0.1:0",
			StoreDir:     filepath.Join(base, fmt.Sprintf("n%d", i+1)),
			SyncAlways:   true,
		}
		if n > 1 {
			o.ClusterListen, o.Routes = routes[i], routes
		}
		if setup != nil {
			setup(i, &o)
		}
		log := zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)).Named(o.Name)
		s, err := cluster.StartEmbedded(ctx, o, log)
		if err != nil {
			tb.Fatalf("starting %s: %v", o.Name, err)
		}
		c.Servers = append(c.Servers, s)
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), Timeout)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				tb.Errorf("shutting down %s: %v", s.Name(), err)
			}
		})
	}
	c.WaitRoutes(tb)
	c.WaitJetStream(tb)
	return c
}

// Eventually polls cond until it holds, failing the test with what()
// after Timeout.
func Eventually(tb testing.TB, cond func() bool, what func() string) {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", Timeout, what())
		}
		time.Sleep(pollEvery)
	}
}

// WaitRoutes waits until every server has a route to every other.
func (c *Cluster) WaitRoutes(tb testing.TB) {
	tb.Helper()
	want := len(c.Servers) - 1
	Eventually(tb, func() bool {
		for _, s := range c.Servers {
			if s.Remotes() != want {
				return false
			}
		}
		return true
	}, func() string {
		got := make([]int, len(c.Servers))
		for i, s := range c.Servers {
			got[i] = s.Remotes()
		}
		return fmt.Sprintf("remote servers %v, want %d each", got, want)
	})
}

// WaitJetStream waits until a server leads the JetStream meta group with
// every server online in it, and every server is a current member.
func (c *Cluster) WaitJetStream(tb testing.TB) {
	tb.Helper()
	Eventually(tb, func() bool {
		leaders := 0
		for _, s := range c.Servers {
			leader, peers, current := s.JetStreamMeta()
			if !current {
				return false
			}
			if leader {
				if len(peers) != len(c.Servers) {
					return false
				}
				leaders++
			}
		}
		return leaders == 1
	}, func() string { return "no JetStream meta leader seeing every server" })
}

// URLs returns the client URLs of the servers, in order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.ClientURL()
	}
	return urls
}

// Connect connects a plain NATS client to server i (closed when the test
// ends), going to that server only.
func (c *Cluster) Connect(tb testing.TB, i int, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	return ConnectURL(tb, c.Servers[i].ClientURL(), opts...)
}

// ConnectURL connects a plain NATS client to url only (closed when the
// test ends).
func ConnectURL(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.IgnoreDiscoveredServers(), nats.Timeout(Timeout)}, opts...)...)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// WaitInterest waits until server s has at least one subscription,
// local or across a route, matching each subject: a message published
// there now reaches a subscriber.
func WaitInterest(tb testing.TB, s *cluster.Embedded, subjects ...string) {
	tb.Helper()
	Eventually(tb, func() bool {
		return !slices.ContainsFunc(subjects, func(sub string) bool { return s.Interest(sub) == 0 })
	}, func() string { return fmt.Sprintf("server %s has no interest in one of %q", s.Name(), subjects) })
}

// WaitNoInterest waits until server s has no subscription matching
// subject.
func WaitNoInterest(tb testing.TB, s *cluster.Embedded, subject string) {
	tb.Helper()
	Eventually(tb, func() bool { return s.Interest(subject) == 0 },
		func() string { return fmt.Sprintf("server %s still has interest in %q", s.Name(), subject) })
}
