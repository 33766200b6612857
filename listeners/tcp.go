package listeners

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// TCPListener serves plain MQTT over TCP.
type TCPListener struct {
	name string
	ln   net.Listener
	once sync.Once
}

// ListenTCP binds address for the listener called name.
func ListenTCP(name, address string) (*TCPListener, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", address, err)
	}
	return &TCPListener{name: name, ln: ln}, nil
}

// Name returns the listener's name.
func (l *TCPListener) Name() string { return l.name }

// Addr returns the bound address.
func (l *TCPListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting.
func (l *TCPListener) Close() error {
	var err error
	l.once.Do(func() { err = l.ln.Close() })
	return err
}

// Serve accepts connections until ctx is cancelled or Close is called.
func (l *TCPListener) Serve(ctx context.Context, h Handler) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Temporary failures (e.g. out of file descriptors): back off
			// rather than spin, as net/http does.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("accepting on %s: %w", l.name, err)
		}
		delay = 0
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		meta := &Meta{Listener: l.name, Transport: TCP, RemoteAddr: conn.RemoteAddr(), LocalAddr: conn.LocalAddr()}
		go h(conn, meta)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
