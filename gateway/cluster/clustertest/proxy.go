package clustertest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from its own loopback address to a
// target. Cut partitions the link silently: bytes stop flowing both ways
// while the sockets stay open, as when a network drops packets, so that
// only the clients' pings notice. Heal closes the connections that were
// cut (their streams lost bytes) and forwards new ones again. Mute drops
// only what the clients send: what the server sends still arrives.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	muted bool
	conns map[*proxyConn]struct{}
	wg    sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	p              *Proxy
	// cut is set while the connection is partitioned; guarded by p.mu.
	cut bool
}

// NewProxy starts a proxy to target (host:port), closed when the test
// ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns nats://Addr().
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s, p: p}
		p.mu.Lock()
		pc.cut = p.cut
		p.conns[pc] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go pc.pipe(s, c)
		go pc.pipe(c, s)
	}
}

// pipe copies from src to dst, discarding what it reads while the proxy
// is cut.
func (pc *proxyConn) pipe(dst, src net.Conn) {
	defer pc.p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pc.isCut() && !(src == pc.client && pc.p.isMuted()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			pc.close()
			return
		}
	}
}

func (pc *proxyConn) close() {
	pc.client.Close()
	pc.server.Close()
	pc.p.mu.Lock()
	delete(pc.p.conns, pc)
	pc.p.mu.Unlock()
}

func (pc *proxyConn) isCut() bool {
	pc.p.mu.Lock()
	defer pc.p.mu.Unlock()
	return pc.cut
}

func (p *Proxy) isMuted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.muted
}

// Mute drops, from now on, what the clients send through the proxy, on
// the connections open now and on new ones, while what the server sends
// still reaches them: a client whose requests and acknowledgements are
// lost, and that still receives.
func (p *Proxy) Mute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = true
}

// Cut stops all traffic through the proxy, silently: on the connections
// open now and on those accepted until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for pc := range p.conns {
		pc.cut = true
	}
}

// Heal closes every connection (each lost bytes while cut) and lets
// traffic through again: clients reconnect through the proxy.
func (p *Proxy) Heal() {
	p.mu.Lock()
	var conns []*proxyConn
	for pc := range p.conns {
		if pc.cut {
			conns = append(conns, pc)
		}
	}
	p.cut = false
	p.mu.Unlock()
	for _, pc := range conns {
		pc.client.Close()
		pc.server.Close()
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
