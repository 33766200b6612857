package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

func retainedMsg(topic, payload string) *Message {
	return &Message{pub: &mqtt.Publish{Topic: topic, Payload: []byte(payload), Retain: true}}
}

func retainedTopics(ms []*Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.pub.Topic)
	}
	slices.Sort(out)
	return out
}

// TestRetainedMatch checks which retained messages a filter finds.
func TestRetainedMatch(t *testing.T) {
	r := newRetainedStore(0, 0, &stats.Counters{})
	for _, topic := range []string{"a", "a/b", "a/b/c", "a/c", "b", "/x", "$SYS/up", "$SYS/a/b", "a//b"} {
		r.store(retainedMsg(topic, "p"))
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"a", []string{"a"}},
		{"a/#", []string{"a", "a//b", "a/b", "a/b/c", "a/c"}},          // "a/#" matches "a" too
		{"#", []string{"/x", "a", "a//b", "a/b", "a/b/c", "a/c", "b"}}, // [MQTT-4.7.2-1]: no $ topics
		{"+", []string{"a", "b"}},
		{"+/b", []string{"a/b"}},
		{"+/+", []string{"/x", "a/b", "a/c"}},
		{"a/+/c", []string{"a/b/c"}},
		{"a/+/b", []string{"a//b"}},
		{"+/up", nil}, // [MQTT-4.7.2-1]
		{"$SYS/#", []string{"$SYS/a/b", "$SYS/up"}},
		{"$SYS/+", []string{"$SYS/up"}},
		{"c/#", nil},
	}
	for _, tt := range tests {
		got := retainedTopics(r.match(tt.filter, time.Now()))
		if !slices.Equal(got, tt.want) {
			t.Errorf("match(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// TestRetainedStore checks replacement, deletion by an empty payload,
// expiry and the bounds.
func TestRetainedStore(t *testing.T) {
	st := &stats.Counters{}
	r := newRetainedStore(3, 0, st)
	for i := range 3 {
		if !r.store(retainedMsg(fmt.Sprintf("t/%d", i), "1234")) {
			t.Fatalf("message %d refused under the bound", i)
		}
	}
	if r.store(retainedMsg("t/3", "x")) {
		t.Error("fourth topic stored over max_messages 3")
	}
	if st.Dropped(stats.DropRetainedFull) != 1 {
		t.Error("refusal not counted")
	}
	// Replacing works at the bound [MQTT-3.3.1-5].
	if !r.store(retainedMsg("t/0", "new")) {
		t.Error("replacement refused at the bound")
	}
	if got := r.match("t/0", time.Now()); len(got) != 1 || string(got[0].pub.Payload) != "new" {
		t.Errorf("t/0 holds %v after replacement", got)
	}
	// An empty payload deletes [MQTT-3.3.1-6]; the store is not stored
	// as a message [MQTT-3.3.1-7].
	r.store(retainedMsg("t/1", ""))
	if n, _ := r.size(); n != 2 {
		t.Errorf("%d retained after delete, want 2", n)
	}
	if got := r.match("t/#", time.Now()); len(got) != 2 {
		t.Errorf("t/# finds %d, want 2", len(got))
	}
	// Expired messages are not delivered, and are removed.
	m := retainedMsg("t/9", "old")
	m.expires = time.Now().Add(-time.Second)
	r.store(m)
	if got := retainedTopics(r.match("t/#", time.Now())); slices.Contains(got, "t/9") {
		t.Error("expired retained message delivered")
	}
	if n, _ := r.size(); n != 2 {
		t.Errorf("%d retained after expiry, want 2", n)
	}

	b := newRetainedStore(0, 10, st)
	if !b.store(retainedMsg("abc", "1234567")) { // 3 + 7 bytes
		t.Fatal("message within max_bytes refused")
	}
	if b.store(retainedMsg("d", "x")) {
		t.Error("message over max_bytes stored")
	}
	if !b.store(retainedMsg("abc", "12")) {
		t.Error("smaller replacement refused")
	}
	if n, bytes := b.size(); n != 1 || bytes != 5 {
		t.Errorf("size %d/%d, want 1/5", n, bytes)
	}
	if len(b.root.children) != 1 {
		t.Errorf("refused topics left %d nodes, want 1", len(b.root.children))
	}
}
