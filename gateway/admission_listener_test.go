package gateway

import (
	"fmt"
	"testing"

	"edgemq/configs"
	"edgemq/gateway/limits"
)

// listeners[].limits replaces the per-IP limits of the limits section for
// one listener, counted apart from the other listeners: here one
// connection per IP on "strict" while "tcp" keeps the global three.
func TestListenerAdmissionOverride(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.PerIPConnections = 3
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "strict", Type: "tcp", Address: "127.0.0.1:0",
		Limits: &configs.ListenerAdmission{PerIPConnections: refOf(1)}})
	ts := startServer(t, cfg)

	tests := []struct {
		listener string
		accepted int // of four connections from 127.0.0.1
	}{
		{"strict", 1},
		{"tcp", 3},
	}
	for _, tt := range tests {
		t.Run(tt.listener, func(t *testing.T) {
			got := 0
			for i := range 4 {
				nc := dialSrc(t, "127.0.0.1", ts.addr(t, tt.listener))
				t.Cleanup(func() { nc.Close() })
				if rawConnect(t, nc, true, fmt.Sprintf("%s-%d", tt.listener, i)) == 0 {
					got++
				}
			}
			if got != tt.accepted {
				t.Errorf("%d of 4 connections accepted on %q, want %d", got, tt.listener, tt.accepted)
			}
		})
	}
	if n := ts.Stats().AdmissionRefused[limits.RefusedPerIP]; n != 4 {
		t.Errorf("refused per_ip_connections = %d, want 4", n)
	}
}

// A per-IP rate of the listener's own refuses what the global rate (off
// in tests) lets through.
func TestListenerAdmissionRateOverride(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listeners[0].Limits = &configs.ListenerAdmission{Rate: &configs.ListenerRate{PerIP: 0.001, PerIPBurst: 2}}
	ts := startServer(t, cfg)
	got := 0
	for i := range 4 {
		nc := dialSrc(t, "127.0.0.1", ts.addr(t, "tcp"))
		t.Cleanup(func() { nc.Close() })
		if rawConnect(t, nc, false, fmt.Sprintf("r-%d", i)) == 0 {
			got++
		}
	}
	if got != 2 {
		t.Errorf("%d of 4 connections accepted, want the burst of 2", got)
	}
	if n := ts.Stats().AdmissionRefused[limits.RefusedPerIPRate]; n != 2 {
		t.Errorf("refused per_ip_rate = %d, want 2", n)
	}
}

// setListenerAdmission (a reload) changes a listener's per-IP limit in
// place: the connections counted stay counted.
func TestListenerAdmissionReload(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listeners[0].Limits = &configs.ListenerAdmission{PerIPConnections: refOf(1)}
	ts := startServer(t, cfg)
	connect := func(id string) int {
		nc := dialSrc(t, "127.0.0.1", ts.addr(t, "tcp"))
		t.Cleanup(func() { nc.Close() })
		return rawConnect(t, nc, true, id)
	}
	next := *cfg
	next.Listeners = []configs.Listener{cfg.Listeners[0]}
	next.Listeners[0].Limits = &configs.ListenerAdmission{PerIPConnections: refOf(2)}
	steps := []struct {
		id     string
		reload *configs.Config
		want   int
	}{
		{"a", nil, 0},
		{"b", nil, closedNoAnswer},
		{"c", &next, 0},
		{"d", nil, closedNoAnswer},
	}
	for _, st := range steps {
		if st.reload != nil {
			ts.setListenerAdmission(st.reload)
		}
		if got := connect(st.id); got != st.want {
			t.Errorf("client %s: connect = %d, want %d", st.id, got, st.want)
		}
	}
}
