package auth

import (
	"testing"

	"edgemq/configs"
	"edgemq/mqtt"
)

// TestGate: an authentication over a cap is refused at once with 0x89
// Server busy and counted under that cap; releasing makes room again,
// and nothing stays counted once all are released.
func TestGate(t *testing.T) {
	type acq struct {
		ip, user string
		want     string // "" admitted, else the cap refusing it
	}
	for _, tt := range []struct {
		name  string
		caps  configs.AuthConcurrency
		steps []acq
	}{
		{"global", configs.AuthConcurrency{Max: 2}, []acq{{"a", "u1", ""}, {"b", "u2", ""}, {"c", "u3", "global"}}},
		{"per ip", configs.AuthConcurrency{PerIP: 1}, []acq{{"a", "u1", ""}, {"a", "u2", "per_ip"}, {"b", "u2", ""}}},
		{"per user", configs.AuthConcurrency{PerUser: 1}, []acq{{"a", "u1", ""}, {"b", "u1", "per_user"}, {"b", "", ""}, {"c", "", ""}}},
		{"no caps", configs.AuthConcurrency{}, []acq{{"a", "u", ""}, {"a", "u", ""}, {"a", "u", ""}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := NewLimits(configs.Auth{Concurrency: tt.caps}).Gate()
			var releases []func()
			for i, s := range tt.steps {
				release, err := g.Acquire(s.ip, s.user)
				switch {
				case s.want == "" && err != nil:
					t.Fatalf("step %d (%s, %s): refused %v, want admitted", i, s.ip, s.user, err)
				case s.want != "" && mqtt.CodeOf(err) != mqtt.ServerBusy:
					t.Fatalf("step %d (%s, %s): %v, want 0x89 by the %s cap", i, s.ip, s.user, err, s.want)
				case s.want != "":
					if n := g.Refused(s.want); n != 1 {
						t.Errorf("refusals by the %s cap: %d, want 1", s.want, n)
					}
				default:
					releases = append(releases, release)
				}
			}
			if n := g.InProgress(); n != len(releases) {
				t.Errorf("in progress %d, want %d", n, len(releases))
			}
			for _, r := range releases {
				r()
			}
			if n := g.InProgress(); n != 0 {
				t.Errorf("in progress after release %d, want 0", n)
			}
			if len(g.ips) != 0 || len(g.users) != 0 {
				t.Errorf("released entries stay: %d addresses, %d users", len(g.ips), len(g.users))
			}
			if release, err := g.Acquire(tt.steps[0].ip, tt.steps[0].user); err != nil {
				t.Errorf("after release: %v", err)
			} else {
				release()
			}
		})
	}
}
