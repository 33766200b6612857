package backend

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"edgemq/gateway/internal/lockorder"
)

// The acknowledgements of the messages stream: a QoS 1 or 2 message is
// acknowledged to its publisher only once the stream stored it (a
// majority of its replicas has it).
//
// Each stream publish gets a number and belongs to the client whose
// message it is (its client id). A client's publishes since its previous
// waiter form a group; a waiter (Publisher.AfterCommit with that client
// id) closes the client's group and completes once every publish of the
// group got the stream's answer and the client's previous waiters
// completed, with an error when one of the group's publishes failed. So:
//   - a client's acknowledgements complete in the order it asked for
//     them, that is the order of its PUBLISHes: PUBACKs in the order of
//     the QoS 1 PUBLISHes, PUBRECs in that of the QoS 2 ones [the
//     Client's rules MQTT-4.6.0-2 and MQTT-4.6.0-3, which the server
//     follows for its own acknowledgements]; the completions of one
//     client run one at a time, in order, on whichever goroutine made the
//     first of them ready;
//   - a failure fails exactly the waiter whose group holds the publish,
//     a publish that failed at once (RouteAt, before its client asked)
//     included: what the stream did not store is never acknowledged;
//   - one client's slow answer holds back no other client's waiter.
//
// Publishes of no client (wills) are tracked for close and the deadline
// only. A waiter of no client ("") waits for every publish numbered so
// far, and fails when one of those failed while it waited.

// ackTimeout is how long the stream has to answer a publish.
const ackTimeout = 5 * time.Second

// acks tracks the stream publishes awaiting their acknowledgement.
type acks struct {
	mu lockorder.Mutex[acksMu]
	// next is the last number given out; pending holds the publishes
	// awaiting their answer, by number.
	next    uint64
	pending map[uint64]pendingPub
	// clients holds the clients with a publish pending, a failure not
	// yet waited for, or a waiter not yet completed.
	clients map[string]*clientAcks
	// all holds the waiters for every publish, in the order they came.
	all []allWaiter
	// failures counts the failed publishes (Counters.StreamFailed).
	failures *atomic.Int64
}

// pendingPub is a publish awaiting the stream's answer.
type pendingPub struct {
	sent   time.Time
	client string
	// g is the client's group the publish belongs to; nil for none.
	g *ackGroup
}

// ackGroup is one client's publishes between two of its waiters.
type ackGroup struct {
	// left counts its publishes awaiting their answer; err is the first
	// failure among them.
	left int
	err  error
	// last is when its last publish was sent.
	last time.Time
	// done is its waiter's; nil while the group is open.
	done func(error)
}

// clientAcks is one client's groups.
type clientAcks struct {
	// open collects the client's publishes until its next waiter; nil
	// when none was made since.
	open *ackGroup
	// queue holds the groups waited for, in order.
	queue []*ackGroup
	// running is set while a goroutine completes the queue's head.
	running bool
}

// allWaiter waits for every publish up to upto.
type allWaiter struct {
	upto uint64
	err  error
	done func(error)
}

func newAcks(failures *atomic.Int64) *acks {
	return &acks{pending: map[uint64]pendingPub{}, clients: map[string]*clientAcks{}, failures: failures}
}

// add numbers a publish of client (the client id; "" for none) sent at
// now.
func (a *acks) add(client string, now time.Time) uint64 {
	a.mu.Lock()
	a.next++
	n := a.next
	var g *ackGroup
	if client != "" {
		g = a.clientLocked(client).openLocked()
		g.left++
		g.last = now
	}
	a.pending[n] = pendingPub{sent: now, client: client, g: g}
	a.mu.Unlock()
	return n
}

// failed records a message of client that could not even be sent (it
// was never numbered): the client's next waiter fails.
func (a *acks) failed(client string, now time.Time, err error) {
	a.failures.Add(1)
	if client == "" {
		return
	}
	a.mu.Lock()
	g := a.clientLocked(client).openLocked()
	g.fail(err)
	g.last = now
	a.mu.Unlock()
}

func (a *acks) clientLocked(client string) *clientAcks {
	c := a.clients[client]
	if c == nil {
		c = &clientAcks{}
		a.clients[client] = c
	}
	return c
}

func (c *clientAcks) openLocked() *ackGroup {
	if c.open == nil {
		c.open = &ackGroup{}
	}
	return c.open
}

// fail records err as the group's failure, unless it has one.
func (g *ackGroup) fail(err error) {
	if g.err != nil {
		return
	}
	if !errors.Is(err, errFailed) {
		err = fmt.Errorf("%w: %w", errFailed, err)
	}
	g.err = err
}

// wait calls done once the publishes of client made so far got their
// answer and client's earlier waiters completed: nil, or an error
// wrapping errFailed when one of its publishes since its previous waiter
// failed. client "" waits for every publish made so far. At once, on the
// caller's goroutine, when nothing is pending; otherwise on the
// goroutine of the answer that completes it. done must not block.
func (a *acks) wait(client string, done func(error)) {
	if client == "" {
		a.waitAll(done)
		return
	}
	a.mu.Lock()
	c := a.clients[client]
	if c == nil {
		a.mu.Unlock()
		done(nil)
		return
	}
	g := c.open
	c.open = nil
	if g == nil {
		g = &ackGroup{}
	}
	g.done = done
	c.queue = append(c.queue, g)
	a.runLocked(client, c)
}

// waitAll is wait for every publish.
func (a *acks) waitAll(done func(error)) {
	a.mu.Lock()
	if len(a.pending) == 0 {
		a.mu.Unlock()
		done(nil)
		return
	}
	a.all = append(a.all, allWaiter{upto: a.next, done: done})
	a.mu.Unlock()
}

// runLocked completes client's ready waiters in order, one at a time,
// with a.mu released around each completion; it returns with a.mu
// released. Another goroutine running them already (c.running) picks up
// what became ready meanwhile. The client is forgotten once nothing of
// it is left.
func (a *acks) runLocked(client string, c *clientAcks) {
	if c.running {
		a.mu.Unlock()
		return
	}
	c.running = true
	for len(c.queue) > 0 && c.queue[0].left == 0 {
		g := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		a.mu.Unlock()
		g.done(g.err)
		a.mu.Lock()
	}
	c.running = false
	if len(c.queue) == 0 && (c.open == nil || c.open.left == 0 && c.open.err == nil) {
		delete(a.clients, client)
	}
	a.mu.Unlock()
}

// complete records the answer to publish n: err nil when the stream
// stored it. An answer to a publish that timed out already changes
// nothing.
func (a *acks) complete(n uint64, err error) {
	a.mu.Lock()
	p, ok := a.pending[n]
	if !ok {
		a.mu.Unlock()
		return
	}
	delete(a.pending, n)
	a.answeredLocked(n, p, err)
	all := a.readyAllLocked()
	if c := a.clients[p.client]; p.g != nil && c != nil {
		a.runLocked(p.client, c)
	} else {
		a.mu.Unlock()
	}
	for _, w := range all {
		w.done(w.err)
	}
}

// answeredLocked records the answer err to publish n, no longer pending.
func (a *acks) answeredLocked(n uint64, p pendingPub, err error) {
	if err != nil {
		a.failures.Add(1)
		for i := range a.all {
			if a.all[i].upto >= n && a.all[i].err == nil {
				a.all[i].err = fmt.Errorf("%w: %w", errFailed, err)
			}
		}
	}
	if p.g == nil {
		return
	}
	p.g.left--
	if err != nil {
		p.g.fail(err)
	}
}

// readyAllLocked removes and returns the waiters for every publish whose
// publishes were all answered.
func (a *acks) readyAllLocked() []allWaiter {
	if len(a.all) == 0 {
		return nil
	}
	lowest := a.next + 1
	for n := range a.pending {
		lowest = min(lowest, n)
	}
	i := 0
	for i < len(a.all) && a.all[i].upto < lowest {
		i++
	}
	ready := a.all[:i:i]
	a.all = a.all[i:]
	return ready
}

var errAckTimeout = errors.New("no answer in time")

// expire fails the publishes sent before deadline, and forgets the
// failures of clients that did not ask for them since.
func (a *acks) expire(deadline time.Time) {
	a.mu.Lock()
	var touched []string
	for n, p := range a.pending {
		if p.sent.Before(deadline) {
			delete(a.pending, n)
			a.answeredLocked(n, p, errAckTimeout)
			if p.g != nil {
				touched = append(touched, p.client)
			}
		}
	}
	for client, c := range a.clients {
		if g := c.open; g != nil && g.left == 0 && g.err != nil && g.last.Before(deadline) && len(c.queue) == 0 {
			// A failure its client never waited for (a will's).
			c.open = nil
			if !c.running {
				delete(a.clients, client)
			}
		}
	}
	all := a.readyAllLocked()
	a.mu.Unlock()
	for _, client := range touched {
		a.mu.Lock()
		if c := a.clients[client]; c != nil {
			a.runLocked(client, c)
		} else {
			a.mu.Unlock()
		}
	}
	for _, w := range all {
		w.done(w.err)
	}
}

// idle reports whether no publish awaits its answer.
func (a *acks) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) == 0
}

// tracked reports how many clients the acknowledgements hold state for
// (tests: none is kept once answered and waited for).
func (a *acks) tracked() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.clients)
}
