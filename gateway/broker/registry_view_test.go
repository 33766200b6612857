package broker

import (
	"edgemq/mqtt"
	"slices"
	"testing"
)

// testSession returns a session of clientID with the subscriptions of
// filters, inflight deliveries and queued ones, as the registry holds
// them.
func testSession(tb testing.TB, clientID string, filters []string, inflight, queued int) *Session {
	tb.Helper()
	s := &Session{st: newSessionState(clientID)}
	for i, f := range filters {
		s.st.putSub(&Subscription{filter: f, qos: byte(i % 3), id: uint32(i + 1)})
	}
	for i := range inflight {
		s.st.setInflight(uint16(i+1), &Delivery{})
	}
	for range queued {
		s.st.pending = append(s.st.pending, &Delivery{})
	}
	return s
}

// TestRegistryGaugesAndViews: the read-only methods the admin API,
// metrics and $SYS use count and copy what the sessions hold.
func TestRegistryGaugesAndViews(t *testing.T) {
	r := newRegistry(0, 0, nil, func(*Session) {}, nil)
	ch := &testClient{}
	sessions := []*Session{
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

	v := sessions[0].View()
	var filters []string
	for _, sub := range v.Subs {
		filters = append(filters, sub.Filter)
	}
	if !slices.Equal(filters, []string{"a/+", "m", "z/#"}) {
		t.Errorf("view subscriptions = %v, want by filter", filters)
	}
	if v.Inflight != 2 || v.Queued != 1 || !v.Connected {
		t.Errorf("view = %+v, want 2 inflight, 1 queued, connected", v)
	}
	if !sessions[0].HeldBy(ch) || sessions[1].HeldBy(ch) || sessions[0].HeldBy(&testClient{}) {
		t.Error("heldBy does not report the owner")
	}
}

// TestRegistryEndOffline: discard (the admin API) and expire (the expiry
// timer) end a session through one path, endOffline: an offline session
// ends with its waiting will published [MQTT-3.1.3-9]; a held one is
// left alone and reported busy; one already ended or replaced is left
// alone, and its replacement kept.
func TestRegistryEndOffline(t *testing.T) {
	type event struct{ wills, ends []string }
	cases := []struct {
		name      string
		held      bool // a connection holds the session
		ended     bool // it already ended
		replaced  bool // the map holds another session of its client id
		absent    bool // the map holds no session of its client id
		will      bool // a will waits for its delay
		expire    bool // end it by expire instead of discard
		wantFound bool
		wantBusy  bool
		wantEnded bool // the session ends (onEnd runs)
		wantGone  bool // the client id leaves the map
		wantWill  bool
	}{
		{name: "discard offline", will: true, wantFound: true, wantEnded: true, wantGone: true, wantWill: true},
		{name: "discard offline without will", wantFound: true, wantEnded: true, wantGone: true},
		{name: "discard held", held: true, will: true, wantFound: true, wantBusy: true},
		{name: "discard unknown", absent: true},
		{name: "expire offline", expire: true, will: true, wantFound: true, wantEnded: true, wantGone: true, wantWill: true},
		{name: "expire held", expire: true, held: true},
		{name: "expire ended", expire: true, ended: true},
		{name: "expire replaced", expire: true, replaced: true, wantEnded: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev event
			r := newRegistry(0, 0, nil,
				func(s *Session) { ev.ends = append(ev.ends, s.st.clientID) },
				func(id string, _ *mqtt.Will) { ev.wills = append(ev.wills, id) })
			s := testSession(t, "c1", nil, 0, 0)
			if tc.held {
				s.owner = &testClient{}
			}
			s.ended = tc.ended
			if tc.will {
				s.offOrNew().will = &mqtt.Will{Topic: "w"}
			}
			other := testSession(t, "c1", nil, 0, 0)
			switch {
			case tc.replaced:
				r.sessions["c1"] = other
			case !tc.absent && !tc.ended:
				r.sessions["c1"] = s
			}

			var found, busy bool
			if tc.expire {
				r.expire(s)
			} else {
				found, busy = r.discard("c1")
				if found != tc.wantFound || busy != tc.wantBusy {
					t.Errorf("discard = found %v, busy %v; want %v, %v", found, busy, tc.wantFound, tc.wantBusy)
				}
			}
			if got := len(ev.ends) == 1; got != tc.wantEnded {
				t.Errorf("onEnd ran for %v, want the session ended: %v", ev.ends, tc.wantEnded)
			}
			if got := len(ev.wills) == 1; got != tc.wantWill {
				t.Errorf("wills published for %v, want one: %v", ev.wills, tc.wantWill)
			}
			if tc.wantEnded != s.ended && !tc.ended {
				t.Errorf("session ended = %v, want %v", s.ended, tc.wantEnded)
			}
			cur := r.lookup("c1")
			switch {
			case tc.wantGone && cur != nil:
				t.Error("the client id is still in the registry")
			case tc.replaced && cur != other:
				t.Error("the replacement session left the registry")
			case tc.held && cur != s:
				t.Error("a held session left the registry")
			}
		})
	}
}
