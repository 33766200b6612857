package configs

import "testing"

func TestAdmissionLimitsValidated(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"negative per ip", "limits:\n  per_ip_connections: -1\n",
			[]string{"test.yaml:2: limits.per_ip_connections: -1 must not be negative"}},
		{"negative max connections", "limits:\n  max_connections: -5\n",
			[]string{"limits.max_connections: -5 must not be negative"}},
		{"negative unauthenticated", "limits:\n  max_unauthenticated: -1\n",
			[]string{"limits.max_unauthenticated: -1 must not be negative"}},
		{"negative rate", "limits:\n  rate:\n    global: -1\n",
			[]string{"limits.rate.global: -1 must not be negative"}},
		{"rate without burst", "limits:\n  rate:\n    per_ip: 10\n    per_ip_burst: 0\n",
			[]string{"limits.rate.per_ip_burst: 0 must be at least 1 when limits.rate.per_ip is set"}},
		{"high water", "limits:\n  busy_high_water: 1.5\n",
			[]string{"limits.busy_high_water: 1.5 must be above 0 and at most 1"}},
		{"busy connect timeout", "limits:\n  busy_connect_timeout: -1s\n",
			[]string{"limits.busy_connect_timeout: -1s must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

func TestAdmissionDefaults(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := Admission{MaxConnections: 100000, MaxUnauthenticated: 10000, PerIPConnections: 1000,
		Rate:          AdmissionRate{PerIP: 100, PerIPBurst: 200, Global: 2000, GlobalBurst: 4000},
		BusyHighWater: 0.8, BusyConnectTimeout: cfg.Limits.BusyConnectTimeout}
	if cfg.Limits != want || cfg.Limits.BusyConnectTimeout <= 0 {
		t.Errorf("default limits = %+v, want %+v", cfg.Limits, want)
	}
}
