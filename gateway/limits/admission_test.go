package limits

import (
	"net"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/listeners"
)

// refusalLog records the refusals Admission logs.
type refusalLog struct {
	mu      sync.Mutex
	reasons []string
}

func (l *refusalLog) AdmissionRefused(listener, reason string, _ net.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reasons = append(l.reasons, listener+":"+reason)
}

func addr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1883} }

// TestAdmission: each limit refuses the socket past it with its reason,
// counted and logged; releasing a ticket makes room again.
func TestAdmission(t *testing.T) {
	tests := []struct {
		name   string
		cfg    configs.Admission
		peers  []string // the last is refused
		reason string
	}{
		{"max connections", configs.Admission{MaxConnections: 2}, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, RefusedMaxConnections},
		{"max unauthenticated", configs.Admission{MaxUnauthenticated: 1}, []string{"10.0.0.1", "10.0.0.2"}, RefusedUnauthenticated},
		{"per ip connections", configs.Admission{PerIPConnections: 1}, []string{"10.0.0.1", "::ffff:10.0.0.1"}, RefusedPerIP},
		{"per ip rate", configs.Admission{Rate: configs.AdmissionRate{PerIP: 0.001, PerIPBurst: 1}}, []string{"10.0.0.1", "10.0.0.1"}, RefusedPerIPRate},
		{"global rate", configs.Admission{Rate: configs.AdmissionRate{Global: 0.001, GlobalBurst: 2}}, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, RefusedGlobalRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAdmission(tt.cfg)
			log := &refusalLog{}
			a.SetLog(log)
			var tickets []listeners.Ticket
			for i, p := range tt.peers {
				tk, ok := a.Admit(addr(p), false)
				if last := i == len(tt.peers)-1; ok == last {
					t.Fatalf("peer %d (%s): admitted %v", i, p, ok)
				}
				if ok {
					tickets = append(tickets, tk)
				}
			}
			if n := a.Refused()[tt.reason]; n != 1 {
				t.Errorf("Refused()[%s] = %d, want 1 (%v)", tt.reason, n, a.Refused())
			}
			if len(log.reasons) != 1 || log.reasons[0] != ":"+tt.reason {
				t.Errorf("logged %q, want [:%s]", log.reasons, tt.reason)
			}
			if got := a.Unauthenticated(); got != len(tickets) {
				t.Errorf("Unauthenticated = %d, want %d", got, len(tickets))
			}
			for _, tk := range tickets {
				tk.(*Ticket).Authenticated()
				tk.Release()
				tk.Release() // twice is once
			}
			if got := a.Unauthenticated(); got != 0 {
				t.Errorf("Unauthenticated after release = %d, want 0", got)
			}
			if tt.reason != RefusedPerIPRate && tt.reason != RefusedGlobalRate {
				if _, ok := a.Admit(addr(tt.peers[0]), false); !ok {
					t.Error("refused after the tickets were released")
				}
			}
		})
	}
}

// TestAdmissionGatesAndRebind: a listener with per-IP limits of its own
// counts apart; a proxied socket is judged by its client's address on
// Rebind; a reload of the limits keeps the counts.
func TestAdmissionGatesAndRebind(t *testing.T) {
	a := NewAdmission(configs.Admission{PerIPConnections: 1})
	own := a.GateFor("own", configs.Admission{PerIPConnections: 2})
	shared := a.GateFor("shared", configs.Admission{PerIPConnections: 1})
	if _, ok := shared.Admit(addr("10.0.0.1"), false); !ok {
		t.Fatal("first socket refused")
	}
	for i := range 2 {
		if _, ok := own.Admit(addr("10.0.0.1"), false); !ok {
			t.Fatalf("socket %d on the listener of its own limits refused", i)
		}
	}
	if _, ok := own.Admit(addr("10.0.0.1"), false); ok {
		t.Error("third socket on a per_ip_connections 2 listener admitted")
	}
	if _, ok := a.Admit(addr("10.0.0.1"), false); ok {
		t.Error("second socket of an address under the gateway-wide limit admitted")
	}
	// A proxied socket: the per-IP limit waits for the real address.
	tk, ok := a.Admit(addr("10.9.9.9"), true)
	if !ok {
		t.Fatal("proxied socket refused")
	}
	if tk.Rebind(addr("10.0.0.1")) {
		t.Error("Rebind to an address at its limit succeeded")
	}
	if !tk.Rebind(addr("10.0.0.2")) {
		t.Error("Rebind to a free address failed")
	}
	if n := a.Refused()[RefusedPerIP]; n != 3 {
		t.Errorf("per_ip_connections refusals = %d, want 3", n)
	}
	// A reload raising the limit keeps the counts: one more fits.
	a.SetLimits(configs.Admission{PerIPConnections: 2})
	if _, ok := a.Admit(addr("10.0.0.2"), false); !ok {
		t.Error("refused under the reloaded limit")
	}
	if _, ok := a.Admit(addr("10.0.0.2"), false); ok {
		t.Error("admitted past the reloaded limit: the counts were lost")
	}
	if got := IPOf(addr("::ffff:10.0.0.7")).String(); got != "10.0.0.7" {
		t.Errorf("IPOf(mapped) = %s", got)
	}
}

// TestAdmissionBusy: past the busy high-water mark of the
// unauthenticated sockets, OverHighWater grows to 1 at the cap, where
// Busy always refuses, counted.
func TestAdmissionBusy(t *testing.T) {
	a := NewAdmission(configs.Admission{MaxUnauthenticated: 4, BusyHighWater: 0.5})
	var tickets []listeners.Ticket
	for i, want := range []float64{0, 0, 0.5, 1} {
		tk, ok := a.Admit(nil, false)
		if !ok {
			t.Fatalf("socket %d refused", i)
		}
		tickets = append(tickets, tk)
		if got := a.OverHighWater(); got != want {
			t.Errorf("%d unauthenticated: OverHighWater = %v, want %v", i+1, got, want)
		}
	}
	if !a.Busy() || a.Refused()[RefusedBusy] != 1 {
		t.Errorf("at the cap: Busy false or not counted (%d)", a.Refused()[RefusedBusy])
	}
	for _, tk := range tickets {
		tk.Release()
	}
	if a.OverHighWater() != 0 || a.Busy() {
		t.Error("busy with no unauthenticated sockets")
	}
}

// TestAdmissionConnectTimeout: busy_connect_timeout replaces a longer
// profile connect_timeout only while the unauthenticated sockets are past
// the busy high-water mark, and a reload's value applies at once.
func TestAdmissionConnectTimeout(t *testing.T) {
	const profile = 10 * time.Second
	a := NewAdmission(configs.Admission{MaxUnauthenticated: 2, BusyHighWater: 0.5, BusyConnectTimeout: time.Second})
	if got := a.ConnectTimeout(profile); got != profile {
		t.Errorf("idle: %s, want the profile's %s", got, profile)
	}
	var tickets []listeners.Ticket
	for range 2 {
		tk, ok := a.Admit(nil, false)
		if !ok {
			t.Fatal("socket refused")
		}
		tickets = append(tickets, tk)
	}
	tests := []struct {
		name       string
		busy, prof time.Duration
		want       time.Duration
	}{
		{"busy and shorter", time.Second, profile, time.Second},
		{"busy but longer", time.Minute, profile, profile},
		{"unset", 0, profile, profile},
	}
	for _, tt := range tests {
		a.SetLimits(configs.Admission{MaxUnauthenticated: 2, BusyHighWater: 0.5, BusyConnectTimeout: tt.busy})
		if got := a.ConnectTimeout(tt.prof); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	for _, tk := range tickets {
		tk.Release()
	}
	a.SetLimits(configs.Admission{MaxUnauthenticated: 2, BusyHighWater: 0.5, BusyConnectTimeout: time.Second})
	if got := a.ConnectTimeout(profile); got != profile {
		t.Errorf("after release: %s, want the profile's %s", got, profile)
	}
}
