// Package bolt is the embedded store: one bbolt file, written
// incrementally by a single writer goroutine that group-commits the
// operations queued meanwhile, many per transaction and fsync.
//
// Layout (schema version 2): bucket meta holds "schema"; sessions maps a
// client id to its session (JSON); subscriptions maps (client id, filter
// hash) to a subscription (subs.go); deliveries maps (client id, seq) to a
// delivery (binary, message by id); messages maps a message id to a
// reference count and the message, stored once for all the deliveries
// that refer to it; rels maps (client id, packet id) to nothing; retained
// maps a topic to its message.
//
// A session's owner (store.Session.Owner) was added to the session JSON
// without a new schema version: records written before it have no
// "Owner" key and load with Owner nil, which the engine treats as a
// session any identity may take once (and that binds it); an older
// edgemq reading a newer record ignores the key.
//
// Fan-out: a message queued for many sessions is written once; each
// session gets a small delivery record naming it. A delivery put and
// deleted within one batch (acknowledged before the commit) is not written
// at all.
//
// Sync mode: callers' done callbacks run after the commit (fsync) that
// holds their operations; a commit takes everything queued while the
// previous one ran, so one fsync serves many publishes (group commit).
// Async mode: done runs at once and the writer commits every interval; a
// crash loses at most the last interval's changes.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/store"

	bbolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this package writes and reads. Version 1
// (subscriptions inside the session records) is upgraded at open.
const SchemaVersion = 2

var (
	bMeta       = []byte("meta")
	bSessions   = []byte("sessions")
	bDeliveries = []byte("deliveries")
	bMessages   = []byte("messages")
	bRels       = []byte("rels")
	bRetained   = []byte("retained")
	kSchema     = []byte("schema")
)

// DB is a bbolt store.
type DB struct {
	db   *bbolt.DB
	path string
	// interval is the async flush period; 0: sync (commit as soon as the
	// writer is free, then run the done callbacks).
	interval time.Duration

	// gate is held shared by groups and exclusively to cut a batch; mu
	// is taken under it, never the reverse (gateway/LOCKS.md).
	gate   lockorder.RWMutex[gateClass]
	mu     lockorder.Mutex[queueMu]
	queue  []entry
	closed bool
	wake   chan struct{}
	stop   chan struct{}
	exited chan struct{}
}

type entry struct {
	ops  []store.Op
	done func(error)
}

// Open opens (creating it) the store at path. interval 0 is sync mode;
// above 0, async mode writing every interval. A file that is not a valid
// store of this schema version is refused, never reset.
func Open(path string, interval time.Duration) (d *DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", store.ErrCorrupt, path, r)
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is locked by another process: %w", path, err)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("opening store %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", store.ErrCorrupt, path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			empty := true
			tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%w: %s has no schema version (written by an edgemq before persistence, or not an edgemq store)", store.ErrVersion, path)
			}
			var err error
			if meta, err = tx.CreateBucket(bMeta); err != nil {
				return err
			}
			if err := meta.Put(kSchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
				return err
			}
		}
		v := meta.Get(kSchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: %s: schema key unreadable", store.ErrCorrupt, path)
		}
		n := binary.BigEndian.Uint32(v)
		if n != SchemaVersion && n != 1 {
			return fmt.Errorf("%w: %s has schema version %d, this edgemq reads versions 1 and %d only", store.ErrVersion, path, n, SchemaVersion)
		}
		for _, b := range [][]byte{bSessions, bDeliveries, bMessages, bRels, bRetained, bSubs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if n == 1 {
			return upgradeV1(tx, meta) // subs.go
		}
		return nil
	})
	if err != nil {
		db.Close()
		if errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %v", store.ErrCorrupt, path, err)
	}
	d = &DB{db: db, path: path, interval: interval, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go d.run()
	return d, nil
}

// Path returns the file.
func (d *DB) Path() string { return d.path }

// Apply implements store.Store.
func (d *DB) Apply(ops []store.Op, done func(error)) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		if done != nil {
			done(errors.New("store closed"))
		}
		return
	}
	if d.interval > 0 {
		// async: acknowledged now, written at the next flush.
		if len(ops) > 0 {
			d.queue = append(d.queue, entry{ops: ops})
		}
		d.mu.Unlock()
		if done != nil {
			done(nil)
		}
		return
	}
	d.queue = append(d.queue, entry{ops: ops, done: done})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Group implements store.Store.
func (d *DB) Group() func() {
	d.gate.RLock()
	return d.gate.RUnlock
}

// run is the writer.
func (d *DB) run() {
	defer close(d.exited)
	var tick <-chan time.Time
	if d.interval > 0 {
		t := time.NewTicker(d.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-d.wake:
		case <-tick:
		case <-d.stop:
			d.flush()
			return
		}
		d.flush()
	}
}

// flush commits everything queued in one transaction. An operation the
// store cannot hold (isolated) leaves its Apply call out: the batch is
// committed again without it, and only that call's done gets the error.
func (d *DB) flush() {
	q := d.cut()
	if len(q) == 0 {
		return
	}
	if !slices.ContainsFunc(q, hasOps) {
		// Only waits: what was queued before them was committed by an
		// earlier flush, as flushes run one at a time. An empty commit
		// would still write the meta page and sync twice, which every
		// QoS 1 PUBACK whose message stored nothing here would wait
		// for.
		for _, e := range q {
			if e.done != nil {
				e.done(nil)
			}
		}
		return
	}
	var left map[int]error // entries left out, with their error
	var err error
	for {
		bad := -1
		skip := superseded(q, left)
		err = d.db.Update(func(tx *bbolt.Tx) error {
			for ei, e := range q {
				if left[ei] != nil {
					continue
				}
				for i := range e.ops {
					if skip[opRef{ei, i}] {
						continue
					}
					if err := apply(tx, &e.ops[i]); err != nil {
						if isolated(err) {
							bad = ei
						}
						return err
					}
				}
			}
			return nil
		})
		if err == nil || bad < 0 {
			break
		}
		if left == nil {
			left = make(map[int]error)
		}
		if errors.Is(err, bbolt.ErrKeyRequired) {
			left[bad] = fmt.Errorf("writing store %s: %w", d.path, err)
		} else {
			left[bad] = fmt.Errorf("writing store %s: %w: %w", d.path, store.ErrTooLarge, err)
		}
	}
	if err != nil {
		err = fmt.Errorf("writing store %s: %w", d.path, err)
	}
	for ei, e := range q {
		if e.done == nil {
			continue
		}
		if lerr := left[ei]; lerr != nil {
			e.done(lerr)
		} else {
			e.done(err)
		}
	}
}

// cut takes the queue: under the gate when it holds changes, so that a
// group's changes are never split between two batches; without it when
// it holds waits only (Apply of no operations: an acknowledgement's
// AfterCommit), which have no changes to keep together, so that
// publishers are not held up while the writer cuts them.
func (d *DB) cut() []entry {
	d.mu.Lock()
	if !slices.ContainsFunc(d.queue, hasOps) {
		q := d.queue
		d.queue = nil
		d.mu.Unlock()
		return q
	}
	d.mu.Unlock()
	d.gate.Lock()
	defer d.gate.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queue
	d.queue = nil
	return q
}

func hasOps(e entry) bool { return len(e.ops) > 0 }

// isolated reports whether err belongs to one operation (its key or
// value) rather than to the transaction: that operation's call can be
// left out and the rest committed.
func isolated(err error) bool {
	return errors.Is(err, bbolt.ErrKeyTooLarge) || errors.Is(err, bbolt.ErrValueTooLarge) ||
		errors.Is(err, bbolt.ErrKeyRequired)
}

type opRef struct{ entry, op int }

type deliveryRef struct {
	client string
	seq    uint64
}

// superseded finds the PutDelivery operations of a batch that a later
// DeleteDelivery of the same delivery in the batch undoes: a message
// acknowledged within one commit is never written (nor its payload, when
// no other delivery refers to it). Entries of left are not counted.
func superseded(q []entry, left map[int]error) map[opRef]bool {
	var puts map[deliveryRef][]opRef
	var skip map[opRef]bool
	for ei, e := range q {
		if left[ei] != nil {
			continue
		}
		for i := range e.ops {
			op := &e.ops[i]
			switch op.Kind {
			case store.PutDelivery:
				if puts == nil {
					puts = make(map[deliveryRef][]opRef)
				}
				k := deliveryRef{op.ClientID, op.Delivery.Seq}
				puts[k] = append(puts[k], opRef{ei, i})
			case store.DeleteDelivery:
				k := deliveryRef{op.ClientID, op.Seq}
				for _, r := range puts[k] {
					if skip == nil {
						skip = make(map[opRef]bool)
					}
					skip[r] = true
				}
				delete(puts, k)
			case store.DeleteSession:
				// Its deletes are not by key; keep earlier puts as they are.
				for k := range puts {
					if k.client == op.ClientID {
						delete(puts, k)
					}
				}
			}
		}
	}
	return skip
}

// Close implements store.Store.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.exited
	return d.db.Close()
}

func clientKey(id string) []byte {
	k := binary.BigEndian.AppendUint16(nil, uint16(len(id)))
	return append(k, id...)
}

func deliveryKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(clientKey(id), seq)
}

func relKey(id string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(clientKey(id), pid)
}

func msgKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// encodeMessage: refcount (4), expires unix nanos (8, 0: never),
// from length (2), from, packet.
func encodeMessage(refs uint32, m *store.Message) []byte {
	b := make([]byte, 0, 14+len(m.From)+len(m.Packet))
	b = binary.BigEndian.AppendUint32(b, refs)
	var exp int64
	if !m.Expires.IsZero() {
		exp = m.Expires.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.From)))
	b = append(b, m.From...)
	return append(b, m.Packet...)
}

func decodeMessage(id uint64, v []byte) (refs uint32, m store.Message, err error) {
	if len(v) < 14 {
		return 0, m, fmt.Errorf("%w: message %d is truncated", store.ErrCorrupt, id)
	}
	refs = binary.BigEndian.Uint32(v)
	if exp := int64(binary.BigEndian.Uint64(v[4:])); exp != 0 {
		m.Expires = time.Unix(0, exp)
	}
	n := int(binary.BigEndian.Uint16(v[12:]))
	if len(v) < 14+n {
		return 0, m, fmt.Errorf("%w: message %d is truncated", store.ErrCorrupt, id)
	}
	m.ID = id
	m.From = string(v[14 : 14+n])
	m.Packet = bytes.Clone(v[14+n:])
	return refs, m, nil
}

// storedDelivery is a delivery on disk: the message by id.
type storedDelivery struct {
	Msg    uint64
	QoS    byte
	Retain bool
	SubIDs []uint32
	PID    uint16
	State  byte
	Share  string
}

// encode: message id (8), qos (1), retain (1), packet id (2), state (1),
// share length (2), share, then subscription ids (4 each).
func (sd *storedDelivery) encode() []byte {
	b := make([]byte, 0, 15+len(sd.Share)+4*len(sd.SubIDs))
	b = binary.BigEndian.AppendUint64(b, sd.Msg)
	var r byte
	if sd.Retain {
		r = 1
	}
	b = append(b, sd.QoS, r)
	b = binary.BigEndian.AppendUint16(b, sd.PID)
	b = append(b, sd.State)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sd.Share)))
	b = append(b, sd.Share...)
	for _, id := range sd.SubIDs {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return b
}

func decodeDelivery(v []byte) (sd storedDelivery, err error) {
	if len(v) < 15 {
		return sd, fmt.Errorf("%w: delivery is truncated", store.ErrCorrupt)
	}
	sd.Msg = binary.BigEndian.Uint64(v)
	sd.QoS, sd.Retain = v[8], v[9] == 1
	sd.PID = binary.BigEndian.Uint16(v[10:])
	sd.State = v[12]
	n := int(binary.BigEndian.Uint16(v[13:]))
	rest := v[15:]
	if len(rest) < n || (len(rest)-n)%4 != 0 {
		return sd, fmt.Errorf("%w: delivery is truncated", store.ErrCorrupt)
	}
	sd.Share = string(rest[:n])
	for rest = rest[n:]; len(rest) > 0; rest = rest[4:] {
		sd.SubIDs = append(sd.SubIDs, binary.BigEndian.Uint32(rest))
	}
	return sd, nil
}

func apply(tx *bbolt.Tx, op *store.Op) error {
	switch op.Kind {
	case store.PutSession:
		s := *op.Session
		s.Deliveries, s.Rels, s.Subs = nil, nil, nil
		v, err := json.Marshal(&s)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bSessions).Put([]byte(s.ClientID), v); err != nil {
			return fmt.Errorf("storing session %.64q: %w", s.ClientID, err)
		}
		return putSubs(tx, s.ClientID, op.Session.Subs) // subs.go
	case store.PutSubscriptions:
		return putSubs(tx, op.ClientID, op.Subs)
	case store.DeleteSubscriptions:
		return deleteSubs(tx, op.ClientID, op.Filters)
	case store.DeleteSession:
		if err := tx.Bucket(bSessions).Delete([]byte(op.ClientID)); err != nil {
			return err
		}
		if err := deleteAllSubs(tx, op.ClientID); err != nil {
			return err
		}
		prefix := clientKey(op.ClientID)
		dl := tx.Bucket(bDeliveries)
		c := dl.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
			if err := unref(tx, v); err != nil {
				return err
			}
			if err := dl.Delete(k); err != nil {
				return err
			}
		}
		rl := tx.Bucket(bRels)
		c = rl.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := rl.Delete(k); err != nil {
				return err
			}
		}
		return nil
	case store.PutDelivery:
		dv := op.Delivery
		key := deliveryKey(op.ClientID, dv.Seq)
		dl := tx.Bucket(bDeliveries)
		old := dl.Get(key)
		sd := storedDelivery{Msg: dv.Msg.ID, QoS: dv.QoS, Retain: dv.Retain, SubIDs: dv.SubIDs, PID: dv.PID, State: dv.State, Share: dv.Share}
		if old == nil {
			if err := ref(tx, &dv.Msg); err != nil {
				return err
			}
		}
		return dl.Put(key, sd.encode())
	case store.DeleteDelivery:
		key := deliveryKey(op.ClientID, op.Seq)
		dl := tx.Bucket(bDeliveries)
		if v := dl.Get(key); v != nil {
			if err := unref(tx, v); err != nil {
				return err
			}
			return dl.Delete(key)
		}
		return nil
	case store.PutRel:
		return tx.Bucket(bRels).Put(relKey(op.ClientID, op.PID), nil)
	case store.DeleteRel:
		return tx.Bucket(bRels).Delete(relKey(op.ClientID, op.PID))
	case store.PutRetained:
		if err := tx.Bucket(bRetained).Put([]byte(op.Topic), encodeMessage(0, op.Retained)); err != nil {
			return fmt.Errorf("storing retained topic of %d bytes: %w", len(op.Topic), err)
		}
		return nil
	case store.DeleteRetained:
		return tx.Bucket(bRetained).Delete([]byte(op.Topic))
	}
	return fmt.Errorf("unknown store operation %d", op.Kind)
}

// ref counts one more reference to m, storing it when new.
func ref(tx *bbolt.Tx, m *store.Message) error {
	b := tx.Bucket(bMessages)
	k := msgKey(m.ID)
	v := b.Get(k)
	if v == nil {
		return b.Put(k, encodeMessage(1, m))
	}
	nv := bytes.Clone(v)
	binary.BigEndian.PutUint32(nv, binary.BigEndian.Uint32(v)+1)
	return b.Put(k, nv)
}

// unref drops the reference of the stored delivery v.
func unref(tx *bbolt.Tx, v []byte) error {
	sd, err := decodeDelivery(v)
	if err != nil {
		return err
	}
	b := tx.Bucket(bMessages)
	k := msgKey(sd.Msg)
	mv := b.Get(k)
	if mv == nil || len(mv) < 4 {
		return nil
	}
	n := binary.BigEndian.Uint32(mv)
	if n <= 1 {
		return b.Delete(k)
	}
	nv := bytes.Clone(mv)
	binary.BigEndian.PutUint32(nv, n-1)
	return b.Put(k, nv)
}

// Load implements store.Store.
func (d *DB) Load(ctx context.Context) (st *store.State, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("%w: %s: %v", store.ErrCorrupt, d.path, r)
		}
	}()
	st = &store.State{}
	err = d.db.View(func(tx *bbolt.Tx) error {
		idx := make(map[string]int)
		err := tx.Bucket(bSessions).ForEach(func(k, v []byte) error {
			var s store.Session
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%w: session %q: %v", store.ErrCorrupt, k, err)
			}
			idx[s.ClientID] = len(st.Sessions)
			st.Sessions = append(st.Sessions, s)
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		if err := loadSubs(tx, st, idx); err != nil { // subs.go
			return err
		}
		msgs := tx.Bucket(bMessages)
		cache := make(map[uint64]store.Message)
		err = tx.Bucket(bDeliveries).ForEach(func(k, v []byte) error {
			id, seq, ok := splitKey(k, 8)
			if !ok {
				return fmt.Errorf("%w: delivery key %x", store.ErrCorrupt, k)
			}
			i, ok := idx[id]
			if !ok {
				return nil
			}
			sd, err := decodeDelivery(v)
			if err != nil {
				return fmt.Errorf("delivery of %q: %w", id, err)
			}
			m, ok := cache[sd.Msg]
			if !ok {
				mv := msgs.Get(msgKey(sd.Msg))
				if mv == nil {
					return fmt.Errorf("%w: delivery of %q refers to missing message %d", store.ErrCorrupt, id, sd.Msg)
				}
				var err error
				if _, m, err = decodeMessage(sd.Msg, mv); err != nil {
					return err
				}
				cache[sd.Msg] = m
			}
			st.Sessions[i].Deliveries = append(st.Sessions[i].Deliveries, store.Delivery{
				Seq: binary.BigEndian.Uint64(seq), Msg: m, QoS: sd.QoS, Retain: sd.Retain,
				SubIDs: sd.SubIDs, PID: sd.PID, State: sd.State, Share: sd.Share,
			})
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bRels).ForEach(func(k, _ []byte) error {
			id, pid, ok := splitKey(k, 2)
			if !ok {
				return fmt.Errorf("%w: rel key %x", store.ErrCorrupt, k)
			}
			if i, ok := idx[id]; ok {
				st.Sessions[i].Rels = append(st.Sessions[i].Rels, binary.BigEndian.Uint16(pid))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bRetained).ForEach(func(k, v []byte) error {
			_, m, err := decodeMessage(0, v)
			if err != nil {
				return fmt.Errorf("retained %q: %w", k, err)
			}
			st.Retained = append(st.Retained, m)
			return nil
		})
	})
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) {
			return nil, fmt.Errorf("%s: %w", d.path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", store.ErrCorrupt, d.path, err)
	}
	return st, nil
}

// splitKey splits a (client id, suffix of n bytes) key.
func splitKey(k []byte, n int) (string, []byte, bool) {
	if len(k) < 2 {
		return "", nil, false
	}
	l := int(binary.BigEndian.Uint16(k))
	if len(k) != 2+l+n {
		return "", nil, false
	}
	return string(k[2 : 2+l]), k[2+l:], true
}
