package ops

import (
	"fmt"
	"slices"
	"testing"

	"edgemq/gateway/stats"
)

// TestClusterMetrics: a cluster node exports its link, serving state and
// cross-node counters; a single node exports none of them.
func TestClusterMetrics(t *testing.T) {
	c := &Cluster{LinkUp: true, Serving: false, LinkLosses: 2, MessagesIn: 3, MessagesOut: 4, TakeoversLocal: 5,
		TakeoversRemote: 6, RemoteWills: 7, RetainedStored: 9, RetainedApplied: 10, RetainedRefused: 14,
		Claimed: 11, ReplayLag: 12, Replays: 13, ReplaySeconds: 1.5, SharedRedelivered: 15}
	m := NewMetrics(&stats.Counters{}, snapshotSource{snap: Snapshot{Cluster: c}})
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"edgemq_cluster_link_up", nil, 1},
		{"edgemq_cluster_serving", nil, 0},
		{"edgemq_cluster_link_losses_total", nil, 2},
		{"edgemq_cluster_messages_total", []string{"in"}, 3},
		{"edgemq_cluster_messages_total", []string{"out"}, 4},
		{"edgemq_cluster_takeovers_total", []string{"local"}, 5},
		{"edgemq_cluster_takeovers_total", []string{"remote"}, 6},
		{"edgemq_cluster_remote_wills_total", nil, 7},
		{"edgemq_cluster_retained_total", []string{"stored"}, 9},
		{"edgemq_cluster_retained_total", []string{"applied"}, 10},
		{"edgemq_cluster_retained_total", []string{"subscribe_refused"}, 14},
		{"edgemq_cluster_sessions_claimed_total", nil, 11},
		{"edgemq_cluster_replay_lag_messages", nil, 12},
		{"edgemq_cluster_replays_total", nil, 13},
		{"edgemq_cluster_replay_seconds_total", nil, 1.5},
		{"edgemq_cluster_shared_redelivered_total", nil, 15},
	} {
		t.Run(fmt.Sprint(tt.name, tt.labels), func(t *testing.T) {
			got, ok := gathered(t, m.reg, tt.name, tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
			}
		})
	}
	single := NewMetrics(&stats.Counters{}, snapshotSource{})
	if _, ok := gathered(t, single.reg, "edgemq_cluster_link_up"); ok {
		t.Error("a single node exports cluster metrics")
	}
}

// TestClusterNotReady: a node is not ready while its NATS link is down or
// while it rechecks its ownership after an outage.
func TestClusterNotReady(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    *Cluster
		want []string
	}{
		{"single node", nil, nil},
		{"serving", &Cluster{LinkUp: true, Serving: true}, nil},
		{"link down", &Cluster{}, []string{"cluster link"}},
		{"rechecking", &Cluster{LinkUp: true}, []string{"cluster rechecking"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotReady(Health{Cluster: tt.c}); !slices.Equal(got, tt.want) {
				t.Errorf("NotReady = %q, want %q", got, tt.want)
			}
		})
	}
}
