package configs

import (
	"fmt"
	"slices"
	"testing"
)

// TestClusterExamplePorts: the three nodes of configs/examples/cluster use
// the ports the README names (MQTT tcp 1891-1893, ws 8091-8093, ops
// 9191-9193, NATS clients 4231-4233, routes 6231-6233), data in
// ./data-nodeN, one routes list, and each advertises its own tcp address.
func TestClusterExamplePorts(t *testing.T) {
	var routes []string
	for i := 1; i <= 3; i++ {
		f := fmt.Sprintf("examples/cluster/node%d.yaml", i)
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cl := cfg.Cluster
		tcp := fmt.Sprintf("127.0.0.1:189%d", i)
		for _, c := range []struct{ what, got, want string }{
			{"data_dir", cfg.DataDir, fmt.Sprintf("./data-node%d", i)},
			{"ops.address", cfg.Ops.Address, fmt.Sprintf("127.0.0.1:919%d", i)},
			{"cluster.node", cl.Node, fmt.Sprintf("node%d", i)},
			{"cluster.advertise", cl.Advertise, tcp},
			{"client_listen", cl.NATS.Embedded.ClientListen, fmt.Sprintf("127.0.0.1:423%d", i)},
			{"cluster_listen", cl.NATS.Embedded.ClusterListen, fmt.Sprintf("127.0.0.1:623%d", i)},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %q, want %q", f, c.what, c.got, c.want)
			}
		}
		addrs := map[string]string{}
		for _, l := range cfg.Listeners {
			addrs[l.Type] = l.Address
		}
		if addrs["tcp"] != tcp || addrs["ws"] != fmt.Sprintf("127.0.0.1:809%d", i) || len(addrs) != 2 {
			t.Errorf("%s: listeners %v", f, addrs)
		}
		if cl.Replicas != 3 || !cl.Embedded() {
			t.Errorf("%s: replicas %d, embedded %v", f, cl.Replicas, cl.Embedded())
		}
		if routes == nil {
			routes = cl.NATS.Embedded.Routes
		} else if !slices.Equal(routes, cl.NATS.Embedded.Routes) {
			t.Errorf("%s: routes %v differ from node1's %v", f, cl.NATS.Embedded.Routes, routes)
		}
	}
	if want := []string{"127.0.0.1:6231", "127.0.0.1:6232", "127.0.0.1:6233"}; !slices.Equal(routes, want) {
		t.Errorf("routes %v, want %v", routes, want)
	}
}
