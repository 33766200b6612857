package configs

import "testing"

// TestAuthLimitKeys: auth.concurrency, auth.hash_memory and
// auth.hash_workers have their documented defaults, parse, and bad values
// are refused with their path.
func TestAuthLimitKeys(t *testing.T) {
	c := parse(t, "auth:\n  concurrency:\n    per_ip: 4\n  hash_memory: 33554432\n  hash_workers: 3\n")
	if cc := c.Auth.Concurrency; cc.Max != 256 || cc.PerIP != 4 || cc.PerUser != 16 {
		t.Errorf("auth.concurrency = %+v, want max 256 (default), per_ip 4, per_user 16 (default)", cc)
	}
	if c.Auth.HashMemory != 32<<20 || c.Auth.HashWorkers != 3 {
		t.Errorf("auth.hash_memory %d, hash_workers %d; want 33554432 and 3", c.Auth.HashMemory, c.Auth.HashWorkers)
	}
	d := parse(t, "")
	if d.Auth.HashMemory != 64<<20 || d.Auth.HashWorkers != 0 {
		t.Errorf("defaults: auth.hash_memory %d, hash_workers %d; want 67108864 and 0", d.Auth.HashMemory, d.Auth.HashWorkers)
	}
	// 0 switches a cap off.
	parse(t, "auth:\n  concurrency: {max: 0, per_ip: 0, per_user: 0}\n")

	for _, tt := range []struct{ src, want string }{
		{"auth:\n  concurrency:\n    max: -1\n", "auth.concurrency.max: -1 must not be negative"},
		{"auth:\n  concurrency:\n    per_ip: -2\n", "auth.concurrency.per_ip: -2 must not be negative"},
		{"auth:\n  concurrency:\n    per_user: -3\n", "auth.concurrency.per_user: -3 must not be negative"},
		{"auth:\n  concurrency:\n    max: 8\n    per_ip: 9\n", "auth.concurrency.per_ip: 9 is above max (8)"},
		{"auth:\n  concurrency:\n    max: 8\n    per_ip: 8\n    per_user: 10\n", "auth.concurrency.per_user: 10 is above max (8)"},
		{"auth:\n  hash_memory: 1048576\n", "auth.hash_memory: 1048576 bytes is out of range"},
		{"auth:\n  hash_memory: -1\n", "auth.hash_memory: -1 bytes is out of range"},
		{"auth:\n  hash_workers: -1\n", "auth.hash_workers: -1 is out of range"},
		{"auth:\n  hash_workers: 5000\n", "auth.hash_workers: 5000 is out of range"},
	} {
		wantContains(t, parseErr(t, tt.src), tt.want)
	}
}
