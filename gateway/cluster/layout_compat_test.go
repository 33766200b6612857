package cluster_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCheckServerVersion: a server older than 2.11 is refused with a
// *cluster.ServerVersionError naming the version needed; the embedded
// server's own reported version passes.
func TestCheckServerVersion(t *testing.T) {
	cases := []struct {
		version string
		refused bool
	}{
		{"2.10.22", true},
		{"2.9.0", true},
		{"1.4.1", true},
		{"2.10", true},
		{"2.11.0", false},
		{"2.11.0-RC.1", false},
		{"v2.15.3", false},
		{"3.0.0", false},
		{"", false},        // not reported: the layout's checks tell
		{"nightly", false}, // likewise
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			err := cluster.CheckServerVersion(tc.version)
			var sv *cluster.ServerVersionError
			if got := errors.As(err, &sv); got != tc.refused {
				t.Fatalf("CheckServerVersion(%q) = %v, refused %v, want %v", tc.version, err, got, tc.refused)
			}
			if tc.refused && (!strings.Contains(err.Error(), "nats-server "+cluster.MinServerVersion+" or newer") || !strings.Contains(err.Error(), tc.version)) {
				t.Errorf("error %q names neither the version needed nor the server's", err)
			}
		})
	}
	c := clustertest.Start(t, 1)
	nc := c.Connect(t, 0)
	v := nc.ConnectedServerVersion()
	if err := cluster.CheckServerVersion(v); err != nil || v == "" {
		t.Fatalf("the embedded server (version %q) refused: %v", v, err)
	}
	// A stream the server made without per-message TTLs (a server older
	// than 2.11 ignores the setting it does not know) is refused too.
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	st, err := newJS(t, nc).CreateStream(ctx, jetstream.StreamConfig{Name: "NO_TTL", Subjects: []string{"no_ttl.>"}})
	if err != nil {
		t.Fatal(err)
	}
	err = cluster.NeedMsgTTL(st, "2.10.22")
	var sv *cluster.ServerVersionError
	if !errors.As(err, &sv) || !strings.Contains(err.Error(), "2.10.22") || !strings.Contains(err.Error(), cluster.MinServerVersion) {
		t.Fatalf("a stream without per-message TTLs: %v, want a ServerVersionError naming both versions", err)
	}
}

// TestReconcile: an existing stream is changed only where it lacks what
// this version needs, never where another version set more.
func TestReconcile(t *testing.T) {
	retained, messages := cluster.LayoutOptions{Replicas: 3}.StreamConfigs()
	cases := []struct {
		name    string
		have    jetstream.StreamConfig
		want    jetstream.StreamConfig
		changed []string
		check   func(jetstream.StreamConfig) bool
	}{
		{"same", retained, retained, nil, nil},
		{"newer: more set, larger windows, extra subject", func() jetstream.StreamConfig {
			c := messages
			c.AllowMsgTTL, c.Duplicates, c.MaxAge, c.Description = true, time.Hour, 72*time.Hour, "newer"
			c.Subjects = append(slices.Clone(c.Subjects), "emq_future.>")
			return c
		}(), messages, nil, nil},
		{"older: lacks ttl, smaller window", func() jetstream.StreamConfig {
			c := retained
			c.AllowMsgTTL, c.Duplicates = false, 30*time.Second
			return c
		}(), retained, []string{"allow_msg_ttl", "duplicate_window"},
			func(c jetstream.StreamConfig) bool { return c.AllowMsgTTL && c.Duplicates == retained.Duplicates }},
		{"replicas as configured", func() jetstream.StreamConfig { c := messages; c.Replicas = 1; return c }(), messages,
			[]string{"replicas"}, func(c jetstream.StreamConfig) bool { return c.Replicas == 3 }},
		{"missing republish and subject", func() jetstream.StreamConfig {
			c := messages
			c.RePublish, c.Subjects = nil, nil
			return c
		}(), messages, []string{"subjects", "republish"},
			func(c jetstream.StreamConfig) bool {
				return c.RePublish != nil && slices.Equal(c.Subjects, messages.Subjects)
			}},
		{"unlimited age kept", func() jetstream.StreamConfig { c := messages; c.MaxAge = 0; return c }(), messages, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := cluster.Reconcile(tc.have, tc.want)
			if !slices.Equal(changed, tc.changed) {
				t.Fatalf("changed %v, want %v", changed, tc.changed)
			}
			if len(changed) == 0 && !reflect.DeepEqual(got, tc.have) {
				t.Fatalf("nothing changed but %+v became %+v", tc.have, got)
			}
			if tc.check != nil && !tc.check(got) {
				t.Fatalf("reconciled %+v", got)
			}
			// Reconciling again changes nothing: no flip-flop.
			if _, again := cluster.Reconcile(got, tc.want); len(again) != 0 {
				t.Fatalf("second reconcile changed %v", again)
			}
		})
	}
}

// TestEnsureLayoutAcrossVersions runs EnsureLayout on a real server
// against a layout a newer version made (more turned on, larger windows:
// left exactly as it was, where a plain update failed or turned settings
// back) and against one an older version made (what this one needs is
// added, once).
func TestEnsureLayoutAcrossVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	opts := cluster.LayoutOptions{Replicas: 1}
	configs := func(t *testing.T, js jetstream.JetStream) map[string]jetstream.StreamConfig {
		t.Helper()
		out := map[string]jetstream.StreamConfig{}
		for _, name := range []string{cluster.RetainedStream, cluster.MessagesStream, "KV_" + cluster.SessionsBucket, "KV_" + cluster.NodesBucket} {
			st, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatalf("reading %s: %v", name, err)
			}
			out[name] = st.CachedInfo().Config
		}
		return out
	}
	ensure := func(t *testing.T, js jetstream.JetStream) {
		t.Helper()
		if _, err := cluster.EnsureLayout(ctx, js, opts); err != nil {
			t.Fatalf("EnsureLayout on an existing layout: %v", err)
		}
	}

	t.Run("newer layout left as it is", func(t *testing.T) {
		js := newJS(t, clustertest.Start(t, 1).Connect(t, 0))
		retained, messages := opts.StreamConfigs()
		messages.AllowMsgTTL = true // cannot be turned off again
		messages.Duplicates, messages.MaxAge = 10*time.Minute, 48*time.Hour
		messages.Subjects = append(slices.Clone(messages.Subjects), "emq_future.>")
		retained.Description = "retained, as a newer edgemq describes it"
		sessions, nodes := opts.BucketConfigs()
		sessions.History = 3
		nodes.LimitMarkerTTL = 20 * time.Minute
		for _, cfg := range []jetstream.StreamConfig{retained, messages} {
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		for _, cfg := range []jetstream.KeyValueConfig{sessions, nodes} {
			if _, err := js.CreateKeyValue(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		before := configs(t, js)
		ensure(t, js)
		ensure(t, js)
		if after := configs(t, js); !reflect.DeepEqual(after, before) {
			for name := range before {
				if !reflect.DeepEqual(after[name], before[name]) {
					t.Errorf("%s changed:\n%+v\nbecame\n%+v", name, before[name], after[name])
				}
			}
		}
	})

	t.Run("older layout gets what this version needs, once", func(t *testing.T) {
		js := newJS(t, clustertest.Start(t, 1).Connect(t, 0))
		retained, messages := opts.StreamConfigs()
		retained.AllowMsgTTL, retained.Duplicates = false, 30*time.Second
		messages.RePublish = nil
		for _, cfg := range []jetstream.StreamConfig{retained, messages} {
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		ensure(t, js)
		first := configs(t, js)
		r, m := first[cluster.RetainedStream], first[cluster.MessagesStream]
		if !r.AllowMsgTTL || r.Duplicates != 2*time.Minute || m.RePublish == nil || m.RePublish.Destination != cluster.LivePrefix+">" {
			t.Fatalf("retained %+v, messages %+v: not brought to what this version needs", r, m)
		}
		ensure(t, js)
		if again := configs(t, js); !reflect.DeepEqual(again, first) {
			t.Fatalf("a second EnsureLayout changed the layout again")
		}
	})
}
