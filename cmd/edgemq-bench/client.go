package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/mqtt"
)

// writeBufferSize is the size of a connection's write buffer: packets are
// gathered there and written in batches.
const writeBufferSize = 32 << 10

// conn is one MQTT client connection of the load tool: plain MQTT over
// any transport, with nothing broker specific.
//
// Writes go through a buffer shared under wmu by the goroutine that
// publishes and the connection's reader goroutine (which answers acks);
// whoever is about to block flushes. The reader goroutine alone uses rd.
type conn struct {
	nc net.Conn
	v  mqtt.Version
	rd *mqtt.Reader

	// recvMax is the server's Receive Maximum (5.0), 0 when it set none.
	recvMax int
	// keepAlive is the Server Keep Alive (5.0), 0 when none.
	keepAlive time.Duration

	wmu     sync.Mutex
	w       *bufio.Writer // guarded by wmu
	scratch []byte        // guarded by wmu
	ack     mqtt.Puback   // guarded by wmu; reused so acks do not allocate

	closing atomic.Bool // set by close: read and write errors are expected
}

// dialMQTT opens connection i over o.transport and completes
// CONNECT/CONNACK with a clean session.
func dialMQTT(ctx context.Context, o options, id string, i int) (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
	}
	nc, err := dialTransport(ctx, &d, o)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	v := mqtt.Version(o.version)
	c := &conn{nc: nc, v: v, rd: mqtt.NewReader(nc, 0, nil), w: bufio.NewWriterSize(nc, writeBufferSize)}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mqtt.WritePacket(nc, &mqtt.Connect{Version: v, CleanStart: true, ClientID: id}, v); err != nil {
		nc.Close()
		return nil, fmt.Errorf("writing connect: %w", err)
	}
	p, err := c.rd.ReadPacket(v)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading connack: %w", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("reading connack: got %v", p.Type())
	}
	if ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("connect refused: %v", ack.ReasonCode)
	}
	if ack.Properties.Has(mqtt.PropReceiveMaximum) {
		c.recvMax = int(ack.Properties.ReceiveMaximum)
	}
	if ack.Properties.Has(mqtt.PropServerKeepAlive) {
		c.keepAlive = time.Duration(ack.Properties.ServerKeepAlive) * time.Second
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// subscribe subscribes to filter at qos and waits for the SUBACK. Call it
// before the reader goroutine runs.
func (c *conn) subscribe(filter string, qos byte) error {
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	sub := &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}}
	if err := c.write(sub); err != nil {
		return fmt.Errorf("writing subscribe: %w", err)
	}
	if err := c.flush(); err != nil {
		return fmt.Errorf("writing subscribe: %w", err)
	}
	for {
		p, err := c.rd.ReadPacket(c.v)
		if err != nil {
			return fmt.Errorf("reading suback: %w", err)
		}
		ack, ok := p.(*mqtt.Suback)
		if !ok {
			continue // e.g. a retained message: not ours to count
		}
		if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0].IsError() {
			return fmt.Errorf("subscribing to %q: refused %v", filter, ack.ReasonCodes)
		}
		if byte(ack.ReasonCodes[0]) != qos {
			return fmt.Errorf("subscribing to %q: granted qos %d, asked %d", filter, ack.ReasonCodes[0], qos)
		}
		return nil
	}
}

// write buffers one packet.
func (c *conn) write(p mqtt.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if c.scratch, err = mqtt.Append(c.scratch[:0], p, c.v); err != nil {
		return err
	}
	_, err = c.w.Write(c.scratch)
	return err
}

// writePublish buffers one PUBLISH without copying its payload twice.
func (c *conn) writePublish(p *mqtt.Publish) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if c.scratch, err = mqtt.AppendPublishHeader(c.scratch[:0], p, c.v); err != nil {
		return err
	}
	if _, err = c.w.Write(c.scratch); err != nil {
		return err
	}
	_, err = c.w.Write(p.Payload)
	return err
}

// writeAck buffers a PUBACK, PUBREC, PUBREL or PUBCOMP with reason
// Success.
func (c *conn) writeAck(t mqtt.Type, id uint16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ack = mqtt.Puback{PacketID: id}
	var p mqtt.Packet
	switch t {
	case mqtt.PUBACK:
		p = &c.ack
	case mqtt.PUBREC:
		p = (*mqtt.Pubrec)(&c.ack)
	case mqtt.PUBREL:
		p = (*mqtt.Pubrel)(&c.ack)
	default:
		p = (*mqtt.Pubcomp)(&c.ack)
	}
	var err error
	if c.scratch, err = mqtt.Append(c.scratch[:0], p, c.v); err != nil {
		return err
	}
	_, err = c.w.Write(c.scratch)
	return err
}

// flush writes what is buffered.
func (c *conn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// close sends DISCONNECT (best effort) and closes the connection. It may
// run while the reader goroutine does.
func (c *conn) close() {
	c.closing.Store(true)
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	var err error
	if c.scratch, err = mqtt.Append(c.scratch[:0], &mqtt.Disconnect{}, c.v); err == nil {
		if _, err = c.w.Write(c.scratch); err == nil {
			c.w.Flush()
		}
	}
	c.wmu.Unlock()
	c.nc.Close()
}

// handler receives what a connection's reader goroutine reads.
// The methods are called from that goroutine only.
type handler interface {
	// delivered is called for each PUBLISH received.
	delivered(p *mqtt.Publish)
	// released is called when an outgoing QoS 1 or 2 PUBLISH is done:
	// PUBACK, PUBCOMP, or a PUBREC with an error code.
	released(id uint16)
}

// errClosedByServer reports a DISCONNECT from the server.
var errClosedByServer = errors.New("disconnected by the server")

// serve reads packets until the connection ends, answering the QoS 1 and
// 2 flows of both directions. It flushes the answers whenever nothing more
// is buffered to read, so acks go out in batches. It returns nil when
// ctx is done or the connection is closed by us.
func (c *conn) serve(ctx context.Context, h handler) error {
	if c.keepAlive > 0 {
		stop := c.ping(c.keepAlive / 2)
		defer stop()
	}
	for {
		p, err := c.rd.ReadPacket(c.v)
		if err != nil {
			if ctx.Err() != nil || c.closing.Load() {
				return nil
			}
			return fmt.Errorf("reading: %w", err)
		}
		switch p := p.(type) {
		case *mqtt.Publish:
			h.delivered(p)
			switch p.QoS {
			case 1:
				err = c.writeAck(mqtt.PUBACK, p.PacketID)
			case 2:
				err = c.writeAck(mqtt.PUBREC, p.PacketID)
			}
		case *mqtt.Pubrel:
			err = c.writeAck(mqtt.PUBCOMP, p.PacketID)
		case *mqtt.Puback:
			h.released(p.PacketID)
		case *mqtt.Pubrec:
			if p.ReasonCode.IsError() {
				h.released(p.PacketID) // [MQTT-4.3.3-4] the flow ends here
			} else {
				err = c.writeAck(mqtt.PUBREL, p.PacketID)
			}
		case *mqtt.Pubcomp:
			h.released(p.PacketID)
		case *mqtt.Disconnect:
			return fmt.Errorf("%w: %v", errClosedByServer, p.ReasonCode)
		}
		if err == nil && c.rd.Buffered() == 0 {
			err = c.flush()
		}
		if err != nil {
			if ctx.Err() != nil || c.closing.Load() {
				return nil
			}
			return fmt.Errorf("writing: %w", err)
		}
	}
}

// ping sends PINGREQ every interval until the returned stop is called.
func (c *conn) ping(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if c.write(&mqtt.Pingreq{}) != nil || c.flush() != nil {
					return
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
