package gateway

import (
	"slices"
	"testing"
)

// testSession returns a session of clientID with the subscriptions of
// filters, inflight deliveries and queued ones, as the registry holds
// them.
func testSession(tb testing.TB, clientID string, filters []string, inflight, queued int) *session {
	tb.Helper()
	s := &session{st: newSessionState(clientID)}
	for i, f := range filters {
		s.st.subs[f] = &subscription{filter: f, qos: byte(i % 3), id: uint32(i + 1)}
	}
	for i := range inflight {
		s.st.inflight[uint16(i+1)] = &delivery{}
	}
	for range queued {
		s.st.pending = append(s.st.pending, &delivery{})
	}
	return s
}

// TestRegistryGaugesAndViews: the read-only methods the admin API,
// metrics and $SYS use count and copy what the sessions hold.
func TestRegistryGaugesAndViews(t *testing.T) {
	r := newRegistry(0, 0, nil, func(*session) {}, nil)
	ch := &channel{}
	sessions := []*session{
		testSession(t, "b", []string{"z/#", "a/+", "m"}, 2, 1),
		testSession(t, "a", nil, 0, 4),
		testSession(t, "c", []string{"x"}, 1, 0),
	}
	sessions[0].owner = ch
	for _, s := range sessions {
		r.sessions[s.st.clientID] = s
	}

	n, subs, inflight, queued := r.gauges()
	if n != 3 || subs != 4 || inflight != 3 || queued != 5 {
		t.Errorf("gauges = %d sessions, %d subs, %d inflight, %d queued; want 3, 4, 3, 5", n, subs, inflight, queued)
	}
	if got := r.subscriptionCount(); got != 4 {
		t.Errorf("subscriptionCount = %d, want 4", got)
	}

	var ids []string
	for _, s := range r.snapshot() {
		ids = append(ids, s.st.clientID)
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("snapshot = %v, want by client id", ids)
	}
	if r.lookup("c") != sessions[2] || r.lookup("d") != nil {
		t.Error("lookup does not return the session of the client id, or nil")
	}

	v := sessions[0].view()
	var filters []string
	for _, sub := range v.subs {
		filters = append(filters, sub.filter)
	}
	if !slices.Equal(filters, []string{"a/+", "m", "z/#"}) {
		t.Errorf("view subscriptions = %v, want by filter", filters)
	}
	if v.inflight != 2 || v.queued != 1 || !v.connected {
		t.Errorf("view = %+v, want 2 inflight, 1 queued, connected", v)
	}
	if !sessions[0].heldBy(ch) || sessions[1].heldBy(ch) || sessions[0].heldBy(&channel{}) {
		t.Error("heldBy does not report the owner")
	}
}
