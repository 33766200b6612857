package mqtt

import (
	"errors"
	"io"
	"slices"
	"sync"
)

// chunkSize is the size of the pooled read-ahead buffer a busy connection
// borrows.
const chunkSize = 4096

// idleSize is the inline buffer an idle connection blocks on. It holds a
// PINGREQ, an ack, or the header of anything larger.
const idleSize = 32

// BufferPool lends read-ahead buffers to Readers. One pool serves many
// readers; it is safe for concurrent use. The zero value is ready.
type BufferPool struct {
	pool sync.Pool
	// acks holds recycled acknowledgements (Reader.Recycle).
	acks sync.Pool
}

func (p *BufferPool) getAck() *Puback {
	if a, ok := p.acks.Get().(*Puback); ok {
		return a
	}
	return &Puback{}
}

func (p *BufferPool) putAck(a *Puback) {
	*a = Puback{}
	p.acks.Put(a)
}

func (p *BufferPool) get() *[chunkSize]byte {
	if b, ok := p.pool.Get().(*[chunkSize]byte); ok {
		return b
	}
	return new([chunkSize]byte)
}

func (p *BufferPool) put(b *[chunkSize]byte) { p.pool.Put(b) }

// Reader reads packets from a stream. It is built so that an idle
// connection holds no large buffer: while no bytes are pending it blocks
// on a small inline array, and it borrows a pooled chunk only while data
// keeps arriving, giving it back as soon as its bytes are consumed.
//
// The declared Remaining Length is checked against the maximum packet size
// before anything is allocated for the body, and a body larger than a
// chunk is allocated as its bytes arrive, never up front from the header.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src   io.Reader
	max   uint32
	pool  *BufferPool
	chunk *[chunkSize]byte // borrowed while busy, nil while idle
	buf   []byte           // idle[:] or chunk[:]
	r, w  int              // unread bytes are buf[r:w]
	n     int64            // bytes read from src (BytesRead)
	idle  [idleSize]byte
}

// BytesRead returns how many bytes rd has read from its source since
// Reset (whole packets of a large body only once read entirely).
func (rd *Reader) BytesRead() int64 { return rd.n }

// NewReader returns a Reader of src that refuses packets larger than max
// bytes (the whole packet, fixed header included; 0 means MaxPacketSize).
// pool may be nil, in which case chunks are allocated.
func NewReader(src io.Reader, max uint32, pool *BufferPool) *Reader {
	rd := &Reader{}
	rd.Reset(src, max, pool)
	return rd
}

// Reset makes rd read from src, dropping anything buffered.
func (rd *Reader) Reset(src io.Reader, max uint32, pool *BufferPool) {
	rd.release()
	if pool == nil {
		pool = &BufferPool{}
	}
	rd.src, rd.pool, rd.n = src, pool, 0
	rd.SetMaxPacketSize(max)
	rd.buf, rd.r, rd.w = rd.idle[:], 0, 0
}

// SetMaxPacketSize changes the largest accepted packet.
func (rd *Reader) SetMaxPacketSize(max uint32) {
	if max == 0 || max > MaxPacketSize {
		max = MaxPacketSize
	}
	rd.max = max
}

// Buffered reports how many bytes are read but not yet consumed.
func (rd *Reader) Buffered() int { return rd.w - rd.r }

// Release gives a borrowed chunk back to the pool. Call it when the
// connection is done.
func (rd *Reader) Release() { rd.release(); rd.buf, rd.r, rd.w = rd.idle[:], 0, 0 }

func (rd *Reader) release() {
	if rd.chunk != nil {
		rd.pool.put(rd.chunk)
		rd.chunk = nil
	}
}

// ReadPacket reads and decodes the next packet for version v (CONNECT
// ignores v). It returns io.EOF when the stream ends between packets and
// io.ErrUnexpectedEOF when it ends inside one. A packet over the maximum
// size is answered by an *Error with code PacketTooLarge and its body is
// not read.
//
// An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) may be one given
// back with Recycle.
func (rd *Reader) ReadPacket(v Version) (Packet, error) {
	first, body, owned, err := rd.next()
	if err != nil {
		return nil, err
	}
	var pkt Packet
	if t := Type(first >> 4); t >= PUBACK && t <= PUBCOMP {
		pkt, err = rd.decodeAck(t, first&0x0F, body, v)
	} else {
		pkt, err = decode(first, body, v, owned)
	}
	rd.consumed()
	return pkt, err
}

// decodeAck is decode for an acknowledgement, into a pooled packet.
func (rd *Reader) decodeAck(t Type, flags byte, body []byte, v Version) (Packet, error) {
	if err := checkFlags(t, flags, v); err != nil {
		return nil, err
	}
	a := rd.pool.getAck()
	if err := decodeAckInto(a, t, body, v); err != nil {
		rd.pool.putAck(a)
		return nil, err
	}
	switch t {
	case PUBREC:
		return (*Pubrec)(a), nil
	case PUBREL:
		return (*Pubrel)(a), nil
	case PUBCOMP:
		return (*Pubcomp)(a), nil
	}
	return a, nil
}

// Recycle gives back an acknowledgement (PUBACK, PUBREC, PUBREL,
// PUBCOMP) that the caller is done with and keeps no reference to, nor
// to its properties' slices: a later ReadPacket of a Reader sharing this
// one's pool may return it again. Other packets, and nil, are ignored.
// It saves a server an allocation per acknowledged message.
func (rd *Reader) Recycle(p Packet) {
	var a *Puback
	switch p := p.(type) {
	case *Puback:
		a = p
	case *Pubrec:
		a = (*Puback)(p)
	case *Pubrel:
		a = (*Puback)(p)
	case *Pubcomp:
		a = (*Puback)(p)
	}
	if a != nil && rd.pool != nil {
		rd.pool.putAck(a)
	}
}

// next returns the next packet's first byte and body. The body is either
// inside rd.buf (valid until consumed) or, for packets too large for a
// chunk, a fresh slice the caller owns.
func (rd *Reader) next() (first byte, body []byte, owned bool, err error) {
	// The fixed header: one byte, then a Remaining Length of 1 to 4 bytes.
	hdr := 2
	var rl uint32
	for {
		if err := rd.fill(hdr); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && rd.Buffered() == 0 {
				return 0, nil, false, io.EOF
			}
			return 0, nil, false, err
		}
		b := rd.buf[rd.r+hdr-1]
		rl |= uint32(b&0x7F) << (7 * (hdr - 2))
		if b&0x80 == 0 {
			break
		}
		if hdr == 5 {
			return 0, nil, false, malformed("MQTT-1.5.5-1", "remaining length longer than 4 bytes")
		}
		hdr++
	}
	first = rd.buf[rd.r]
	total := uint64(hdr) + uint64(rl)
	if total > uint64(rd.max) {
		// [MQTT-3.1.2-24 server side]: nothing is allocated for it.
		return 0, nil, false, Errorf(PacketTooLarge, "MQTT-3.2.2-15", "packet of %d bytes exceeds maximum %d", total, rd.max)
	}
	if total > chunkSize {
		// Too big for a chunk: read it into a slice of its own.
		pending := rd.w - (rd.r + hdr)
		body, err = readBody(rd.src, rd.buf[rd.r+hdr:rd.w], int(rl))
		rd.r = rd.w
		if err != nil {
			return 0, nil, false, err
		}
		rd.n += int64(len(body) - pending)
		return first, body, true, nil
	}
	if err := rd.fill(int(total)); err != nil {
		return 0, nil, false, err
	}
	body = rd.buf[rd.r+hdr : rd.r+int(total)]
	rd.r += int(total)
	return first, body, false, nil
}

// fill makes at least n unread bytes available, n ≤ chunkSize.
func (rd *Reader) fill(n int) error {
	for rd.w-rd.r < n {
		if rd.r+n > len(rd.buf) {
			rd.grow(n)
		}
		m, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += m
		rd.n += int64(m)
		if rd.w-rd.r >= n {
			if rd.w == len(rd.buf) && rd.chunk == nil {
				// The inline buffer filled up: more is likely coming.
				rd.grow(chunkSize)
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// grow makes room for n unread bytes from rd.r, moving to a chunk when the
// inline buffer is too small.
func (rd *Reader) grow(n int) {
	if n > len(rd.buf) && rd.chunk == nil {
		rd.chunk = rd.pool.get()
		pending := copy(rd.chunk[:], rd.buf[rd.r:rd.w])
		rd.buf, rd.r, rd.w = rd.chunk[:], 0, pending
		return
	}
	if rd.r > 0 {
		pending := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, pending
	}
}

// consumed returns to the inline buffer once everything read is consumed.
func (rd *Reader) consumed() {
	if rd.r == rd.w {
		rd.release()
		rd.buf, rd.r, rd.w = rd.idle[:], 0, 0
	}
}

// ReadPacket reads one packet from r for version v, refusing packets over
// max bytes (0: no limit beyond the protocol's). It reads no further than
// the packet, so it suits clients and tests; servers use a Reader.
func ReadPacket(r io.Reader, v Version, max uint32) (Packet, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	var rl uint32
	n := 1
	for ; ; n++ {
		if n == 5 {
			return nil, malformed("MQTT-1.5.5-1", "remaining length longer than 4 bytes")
		}
		if _, err := io.ReadFull(r, hdr[n:n+1]); err != nil {
			return nil, unexpected(err)
		}
		rl |= uint32(hdr[n]&0x7F) << (7 * (n - 1))
		if hdr[n]&0x80 == 0 {
			break
		}
	}
	if max == 0 || max > MaxPacketSize {
		max = MaxPacketSize
	}
	if uint64(n+1)+uint64(rl) > uint64(max) {
		return nil, Errorf(PacketTooLarge, "MQTT-3.2.2-15", "packet of %d bytes exceeds maximum %d", uint64(n+1)+uint64(rl), max)
	}
	body, err := readBody(r, nil, int(rl))
	if err != nil {
		return nil, err
	}
	return decode(hdr[0], body, v, true)
}

// bodyStep is the most readBody allocates ahead of the bytes that have
// actually arrived.
const bodyStep = 64 << 10

// readBody reads a body of n bytes, the first of which are in pending,
// into a new slice. It grows the slice as data arrives rather than
// trusting the declared length: a peer that declares a large packet and
// sends nothing costs at most bodyStep, not the declared size.
func readBody(r io.Reader, pending []byte, n int) ([]byte, error) {
	body := make([]byte, 0, min(n, max(bodyStep, len(pending))))
	body = append(body, pending...)
	for len(body) < n {
		if len(body) == cap(body) {
			body = slices.Grow(body, min(n, 2*cap(body))-len(body))
		}
		m, err := r.Read(body[len(body):min(n, cap(body))])
		body = body[:len(body)+m]
		if err != nil && len(body) < n {
			return nil, unexpected(err)
		}
	}
	return body, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
