package gateway

import (
	"net"
	"strconv"
	"testing"
	"time"

	"edgemq/gateway/internal/park"
)

// socketPairHeap returns the heap n idle TCP socket pairs hold, both ends
// in this process and no byte sent: what BenchmarkIdleConnectionHeap's
// measure holds beyond the gateway's own state (the test client's socket
// and the accepted one).
func socketPairHeap(tb testing.TB, n int) int64 {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	before := heapInUse()
	var held []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, c, <-accepted)
	}
	after := heapInUse()
	for _, c := range held {
		c.Close()
	}
	return after - before
}

// BenchmarkIdleConnectionHeap reports the live heap an idle, parked tcp
// connection (3.1.1, no subscription, memory store) costs the gateway,
// measured as the heap growth over n of them less that of as many bare
// socket pairs: B/conn is the gateway's state per connection beyond the
// sockets (connection, channel, session and owner, write queue,
// listener metadata, parking, admission, maps; and the test's own
// per-client cleanup). Issue 17 took it from about 3.4 KB (c75b6b2) to
// 2.7 KB; a rise shows a per-connection structure grew. It is reported,
// never asserted (the struct sizes are: size_test.go in gateway/conn and
// gateway/broker).
//
//	go test -run '^$' -bench IdleConnectionHeap -benchtime 3x ./gateway/
func BenchmarkIdleConnectionHeap(b *testing.B) {
	if !park.Supported() {
		b.Skip("connections park on Linux only")
	}
	const n = 2000
	pair := float64(socketPairHeap(b, n)) / n
	var perConn float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ts := startServer(b, parkConfig(b))
		before := heapInUse()
		b.StartTimer()
		conns := make([]net.Conn, n)
		for j := range conns {
			conns[j] = idleClient(b, ts, "heap-"+strconv.Itoa(i)+"-"+strconv.Itoa(j), 0)
		}
		waitUntil(b, "every idle connection to park", func() bool { return parkedConns(ts.Server) == n })
		b.StopTimer()
		perConn += (float64(heapInUse()) - float64(before)) / n
		b.StartTimer()
		// The clients and the server end with the benchmark (Cleanup).
	}
	b.ReportMetric(perConn/float64(b.N)-pair, "B/conn")
	b.ReportMetric(pair, "socketpair-B")
}
