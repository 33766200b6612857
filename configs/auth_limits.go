package configs

// AuthConcurrency caps the authentications in progress at once
// (auth.concurrency): a CONNECT over a cap is refused at once with v5
// CONNACK 0x89 Server busy (3.x return code 3 Server unavailable). An
// authentication holds its place from the start of the authentication
// chain to its answer, brute-force delay included. 0 means no cap.
type AuthConcurrency struct {
	// Max caps them gateway-wide.
	Max int `yaml:"max"`
	// PerIP caps them per remote address.
	PerIP int `yaml:"per_ip"`
	// PerUser caps them per CONNECT user name.
	PerUser int `yaml:"per_user"`
}

// Bounds of auth.hash_memory: below the floor not even one argon2id hash
// of edgemq passwd (19 MiB) fits.
const (
	minHashMemory = 16 << 20
	maxHashMemory = 1 << 40
)

// validateAuthLimits checks auth.concurrency, auth.hash_memory and
// auth.hash_workers.
func (c *Config) validateAuthLimits(ps *problems) {
	cc := &c.Auth.Concurrency
	for _, f := range []struct {
		key string
		v   int
	}{{"max", cc.Max}, {"per_ip", cc.PerIP}, {"per_user", cc.PerUser}} {
		if f.v < 0 {
			ps.add("auth.concurrency."+f.key, "%d must not be negative (0: no cap)", f.v)
		}
	}
	if cc.Max > 0 && cc.PerIP > cc.Max {
		ps.add("auth.concurrency.per_ip", "%d is above max (%d)", cc.PerIP, cc.Max)
	}
	if cc.Max > 0 && cc.PerUser > cc.Max {
		ps.add("auth.concurrency.per_user", "%d is above max (%d)", cc.PerUser, cc.Max)
	}
	if m := c.Auth.HashMemory; m != 0 && (m < minHashMemory || m > maxHashMemory) {
		ps.add("auth.hash_memory", "%d bytes is out of range: want 0 (64 MiB), or %d (16 MiB) to %d (1 TiB)", m, minHashMemory, maxHashMemory)
	}
	if w := c.Auth.HashWorkers; w < 0 || w > 1024 {
		ps.add("auth.hash_workers", "%d is out of range: want 0 (one per CPU) to 1024", w)
	}
}
