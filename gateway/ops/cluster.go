package ops

import "github.com/prometheus/client_golang/prometheus"

// Cluster is a cluster node's state and counters at one scrape or probe
// (issue 15); a single node has none (nil), and exports no cluster
// metric.
type Cluster struct {
	// LinkUp is the NATS link's state; Serving whether the node serves
	// (link up, liveness renewed, ownership rechecked after an outage).
	LinkUp, Serving bool
	// LinkLosses counts losses of the link (or of the liveness record's
	// renewal) that stopped the node serving.
	LinkLosses int64
	// MessagesIn counts the messages received from other nodes and
	// routed here; MessagesOut the messages sent to the cluster.
	MessagesIn, MessagesOut int64
	// TakeoversLocal counts sessions taken over from a connection of this
	// node by one of its own; TakeoversRemote those taken over from
	// another node.
	TakeoversLocal, TakeoversRemote int64
	// RemoteWills counts the wills this node published for clients of a
	// node that failed.
	RemoteWills int64
	// RetainedStored counts the retained messages of this node the
	// cluster stored; RetainedApplied the changes other nodes' retained
	// messages made to this node's copy.
	RetainedStored, RetainedApplied int64
	// RetainedRefused counts the SUBSCRIBEs refused because the retained
	// mirror was behind the cluster (backend/retained_wait.go).
	RetainedRefused int64
	// Claimed counts the sessions this node claimed from failed nodes.
	Claimed int64
	// ReplayLag is the number of stored messages the offline queues
	// being replayed here have yet to deliver; Replays counts the
	// replays that ended, ReplaySeconds their total duration.
	ReplayLag     int64
	Replays       int64
	ReplaySeconds float64
	// SharedRedelivered counts the QoS 1/2 messages of shared
	// subscription groups their consumer handed this node again: a node
	// before did not confirm them (it died, or its member left).
	SharedRedelivered int64
}

var (
	descClusterLink      = prometheus.NewDesc("edgemq_cluster_link_up", "1 while the node's link to NATS is up.", nil, nil)
	descClusterServing   = prometheus.NewDesc("edgemq_cluster_serving", "1 while the node serves: link up, liveness renewed, ownership rechecked.", nil, nil)
	descClusterLosses    = prometheus.NewDesc("edgemq_cluster_link_losses_total", "Times the node stopped serving for its link to NATS or its liveness record.", nil, nil)
	descClusterMsgs      = prometheus.NewDesc("edgemq_cluster_messages_total", "Messages crossing between this node and the cluster, by direction (in: received from other nodes and routed here; out: sent to the cluster).", []string{"direction"}, nil)
	descClusterTakeovers = prometheus.NewDesc("edgemq_cluster_takeovers_total", "Sessions taken over by a connection of this node, by where the session was (local: this node, remote: another).", []string{"from"}, nil)
	descClusterWills     = prometheus.NewDesc("edgemq_cluster_remote_wills_total", "Wills published for clients of failed nodes.", nil, nil)
	descClusterRetained  = prometheus.NewDesc("edgemq_cluster_retained_total", "Retained messages: stored (this node's, acknowledged by the cluster), applied (other nodes' changes mirrored here) and subscribe_refused (SUBSCRIBEs refused while the mirror was behind).", []string{"op"}, nil)
	descClusterClaimed   = prometheus.NewDesc("edgemq_cluster_sessions_claimed_total", "Sessions this node claimed from failed nodes.", nil, nil)
	descClusterLag       = prometheus.NewDesc("edgemq_cluster_replay_lag_messages", "Stored messages the offline queues being replayed on this node have yet to deliver.", nil, nil)
	descClusterReplays   = prometheus.NewDesc("edgemq_cluster_replays_total", "Offline queue replays that ended on this node.", nil, nil)
	descClusterReplaySec = prometheus.NewDesc("edgemq_cluster_replay_seconds_total", "Time the replays that ended on this node took, in total.", nil, nil)
	descClusterRedeliv   = prometheus.NewDesc("edgemq_cluster_shared_redelivered_total", "QoS 1/2 messages of shared subscription groups handed to this node again because a node before did not confirm them.", nil, nil)
)

var clusterDescs = []*prometheus.Desc{descClusterLink, descClusterServing, descClusterLosses, descClusterMsgs,
	descClusterTakeovers, descClusterWills, descClusterRetained, descClusterClaimed, descClusterLag, descClusterReplays, descClusterReplaySec,
	descClusterRedeliv}

// collectCluster sends the cluster metrics of c.
func collectCluster(ch chan<- prometheus.Metric, c *Cluster) {
	if c == nil {
		return
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descClusterLink, b2f(c.LinkUp))
	gauge(descClusterServing, b2f(c.Serving))
	counter(descClusterLosses, c.LinkLosses)
	counter(descClusterMsgs, c.MessagesIn, "in")
	counter(descClusterMsgs, c.MessagesOut, "out")
	counter(descClusterTakeovers, c.TakeoversLocal, "local")
	counter(descClusterTakeovers, c.TakeoversRemote, "remote")
	counter(descClusterWills, c.RemoteWills)
	counter(descClusterRetained, c.RetainedStored, "stored")
	counter(descClusterRetained, c.RetainedApplied, "applied")
	counter(descClusterRetained, c.RetainedRefused, "subscribe_refused")
	counter(descClusterClaimed, c.Claimed)
	gauge(descClusterLag, float64(c.ReplayLag))
	counter(descClusterReplays, c.Replays)
	ch <- prometheus.MustNewConstMetric(descClusterReplaySec, prometheus.CounterValue, c.ReplaySeconds)
	counter(descClusterRedeliv, c.SharedRedelivered)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// clusterNotReady is what a cluster node's state adds to NotReady.
func clusterNotReady(c *Cluster) []string {
	switch {
	case c == nil:
		return nil
	case !c.LinkUp:
		return []string{"cluster link"}
	case !c.Serving:
		return []string{"cluster rechecking"}
	}
	return nil
}
