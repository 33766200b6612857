package certs

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// acmeListen returns a TCP listener on 127.0.0.1 and its port.
func acmeListen(t testing.TB) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// acmeFreePort returns a port of 127.0.0.1 that nothing listens on, for
// a listener that opens later. It is taken below the kernel's ephemeral
// range (ip_local_port_range): a port the kernel handed out and took back
// can be handed out again at once to any outgoing connection on the
// machine (a parallel test's), and the later listen then fails with
// "address already in use"; ports below the range are only ever taken by
// an explicit bind.
func acmeFreePort(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11024 {
				low = n
			}
		}
	}
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		return port
	}
	t.Fatalf("no free port below %d", low)
	return 0
}
