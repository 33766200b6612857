package broker

import (
	"time"
)

// Retained delivery on SUBSCRIBE is paced: the matching retained messages
// go to the client through a cursor over the retained store
// (retained_cursor.go) that refills the connection's queue as it drains,
// instead of all at once into a queue that would drop most of them. A
// session keeps, for each subscription whose retained messages are not
// all delivered yet, a job: the subscription, where its cursor stands,
// and the store sequence number at the SUBSCRIBE. Jobs run one after the
// other, in SUBSCRIBE order; what one holds is a topic name, whatever the
// number of matching messages.
//
// Pacing: QoS 0 deliveries fill at most half the write queue's bounds
// (gateway/conn/writequeue_pace.go), so that live traffic keeps the other half; QoS 1
// and 2 deliveries also wait for room in the inflight window (the
// client's Receive Maximum [MQTT-3.3.4-9]) and go after the live ones
// waiting in the pending queue. A job steps when the writer takes a batch
// out of the queue, when the client acknowledges, and when a resumed
// session gets its new connection; while the session has no connection
// its jobs wait. Unsubscribing a filter ends its job; the session's end
// ends them all. Nothing is dropped for want of room: the cursor waits.

// retainedJob is the retained delivery still owed to one subscription.
type retainedJob struct {
	sub *Subscription
	// since is the store's sequence number at the SUBSCRIBE: messages
	// stored later went to the subscription live.
	since uint64
	// after is the topic delivered last, once resumed is set.
	after   string
	resumed bool
}

// retainedFeed is a session's retained jobs, in order, and the
// connection whose writer refills them (pumpFor). A side structure of
// the session, made by the first job and dropped with the last: most
// sessions have none most of the time (issue 17).
type retainedFeed struct {
	jobs    []*retainedJob
	pumpFor Client
}

// queued returns the jobs; none for a nil feed.
func (f *retainedFeed) queued() []*retainedJob {
	if f == nil {
		return nil
	}
	return f.jobs
}

// StartRetained queues the retained delivery of subs, in order, and makes
// the first step. since is the retained store's sequence number read
// while the subscriptions were registered and no message was routed. A
// job for the same filter (a resubscription) restarts. It may run after
// the SUBSCRIBE was stored (persist_subs.go, subacked): a filter
// unsubscribed meanwhile gets no job, and one subscribed again takes its
// new options.
func (s *Session) StartRetained(ch Client, subs []*Subscription, since uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	for _, sub := range subs {
		if sub = s.st.subs[sub.filter]; sub == nil {
			continue
		}
		s.stopRetainedLocked(sub.filter)
		if s.feed == nil {
			s.feed = &retainedFeed{}
		}
		s.feed.jobs = append(s.feed.jobs, &retainedJob{sub: sub, since: since})
	}
	s.feedLocked(ch, s.now())
}

// retargetRetainedLocked makes a retained delivery under way for sub's
// filter go on with sub, which replaced its subscription: its granted QoS
// and Subscription Identifier apply from now on.
func (s *Session) retargetRetainedLocked(sub *Subscription) {
	for _, j := range s.feed.queued() {
		if j.sub.filter == sub.filter {
			j.sub = sub
		}
	}
}

// stopRetainedLocked ends the retained delivery of filter, if any.
func (s *Session) stopRetainedLocked(filter string) {
	f := s.feed
	if f == nil {
		return
	}
	for i, j := range f.jobs {
		if j.sub.filter == filter {
			f.jobs[i] = nil
			f.jobs = append(f.jobs[:i], f.jobs[i+1:]...)
			break
		}
	}
	if len(f.jobs) == 0 {
		s.feed = nil
		s.feeding.Store(false)
	}
}

// stopAllRetainedLocked ends every retained delivery (the session ended).
func (s *Session) stopAllRetainedLocked() {
	s.feed = nil
	s.feeding.Store(false)
}

// refillRetained makes a step for ch from the writer's goroutine, after
// it took a batch out of the queue.
func (s *Session) refillRetained(ch Client) {
	if !s.feeding.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.feedLocked(ch, s.now())
	}
}

// feedLocked delivers retained messages to ch, the session's connection,
// as far as the queue and the inflight window allow.
func (s *Session) feedLocked(ch Client, now time.Time) {
	f := s.feed
	if len(f.queued()) == 0 || s.owner != ch || s.ended {
		return
	}
	// The writer must call back for every batch it takes from now on, so
	// both are set before anything is queued: a batch taken before
	// would wake no one.
	s.feeding.Store(true)
	if f.pumpFor != ch {
		f.pumpFor = ch
		ch.SetRefill(func() { s.refillRetained(ch) })
	}
	room := ch.Room()
	window := s.link.Window
	inflight := len(s.st.inflight)
	var batch []*Delivery
	took := 0
	acl := s.env.reads.load() // the owner's read check (owner.go)
	checkReads := s.env.reads.checks(acl)
	for len(f.jobs) > 0 && room.Items > 0 {
		j := f.jobs[0]
		if checkReads && !s.mayRead(j.sub, acl) {
			// The owner may no longer read what this subscription
			// brings: its retained delivery ends here, as live ones
			// through it stop (owner.go).
			f.jobs[0] = nil
			f.jobs = f.jobs[1:]
			continue
		}
		done := s.env.retained.scan(j.sub.filter, j.after, j.resumed, j.since, now, func(m *Message) bool {
			size := int64(len(m.pub.Payload))
			if room.Items <= 0 || (room.Bounded && size > room.Bytes && !(room.Empty && took == 0)) {
				return false
			}
			qos := min(m.pub.QoS, j.sub.qos)
			if qos > 0 {
				// Live deliveries waiting for the window go first.
				if len(s.st.pending) > 0 || inflight >= window {
					return false
				}
				inflight++
			}
			room.Items--
			room.Bytes -= size
			took++
			// The retained flag is set [MQTT-3.3.1-9 (3.1.1 MQTT-3.3.1-8)].
			d := &Delivery{msg: m, qos: qos, retain: true, paced: true}
			if j.sub.id != 0 {
				d.subIDs = []uint32{j.sub.id}
			}
			batch = append(batch, d)
			j.after, j.resumed = m.pub.Topic, true
			return true
		}, func(m *Message) { j.after, j.resumed = m.pub.Topic, true })
		// Handed over outside the store's lock.
		for i, d := range batch {
			s.deliverLocked(d, now)
			batch[i] = nil
		}
		batch = batch[:0]
		if !done {
			break
		}
		f.jobs[0] = nil
		f.jobs = f.jobs[1:]
	}
	if len(f.jobs) == 0 {
		s.feed = nil
		s.feeding.Store(false)
	}
}
