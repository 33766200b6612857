package configs

import "time"

// Admission limits connections before any TLS or MQTT work is spent on
// them (the top-level limits section). A zero count or rate means no
// limit.
type Admission struct {
	// MaxConnections caps connections gateway-wide, counted from accept.
	MaxConnections int `yaml:"max_connections"`
	// MaxUnauthenticated caps sockets that have not yet completed
	// CONNECT/CONNACK.
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// PerIPConnections caps concurrent connections from one IP address.
	PerIPConnections int `yaml:"per_ip_connections"`
	// Rate limits new connections with token buckets.
	Rate AdmissionRate `yaml:"rate"`
	// BusyHighWater is the fraction of max_unauthenticated above which
	// new clients are answered "server busy" with a rising probability
	// (0 at the mark, 1 at the cap); 1 turns that off.
	BusyHighWater float64 `yaml:"busy_high_water"`
	// BusyConnectTimeout replaces the profile's connect_timeout while
	// above the high-water mark, when it is shorter.
	BusyConnectTimeout time.Duration `yaml:"busy_connect_timeout"`
}

// AdmissionRate are the connection-rate token buckets: new connections
// per second, and the burst (bucket size).
type AdmissionRate struct {
	PerIP       float64 `yaml:"per_ip"`
	PerIPBurst  int     `yaml:"per_ip_burst"`
	Global      float64 `yaml:"global"`
	GlobalBurst int     `yaml:"global_burst"`
}

func (c *Config) validateAdmission(ps *problems) {
	a := c.Limits
	for _, f := range []struct {
		key string
		n   int
	}{
		{"limits.max_connections", a.MaxConnections},
		{"limits.max_unauthenticated", a.MaxUnauthenticated},
		{"limits.per_ip_connections", a.PerIPConnections},
		{"limits.rate.per_ip_burst", a.Rate.PerIPBurst},
		{"limits.rate.global_burst", a.Rate.GlobalBurst},
	} {
		if f.n < 0 {
			ps.add(f.key, "%d must not be negative (0 means no limit)", f.n)
		}
	}
	if a.Rate.PerIP < 0 {
		ps.add("limits.rate.per_ip", "%g must not be negative (0 means no limit)", a.Rate.PerIP)
	}
	if a.Rate.Global < 0 {
		ps.add("limits.rate.global", "%g must not be negative (0 means no limit)", a.Rate.Global)
	}
	if a.Rate.PerIP > 0 && a.Rate.PerIPBurst < 1 {
		ps.add("limits.rate.per_ip_burst", "%d must be at least 1 when limits.rate.per_ip is set", a.Rate.PerIPBurst)
	}
	if a.Rate.Global > 0 && a.Rate.GlobalBurst < 1 {
		ps.add("limits.rate.global_burst", "%d must be at least 1 when limits.rate.global is set", a.Rate.GlobalBurst)
	}
	if a.BusyHighWater <= 0 || a.BusyHighWater > 1 {
		ps.add("limits.busy_high_water", "%g must be above 0 and at most 1", a.BusyHighWater)
	}
	if a.BusyConnectTimeout < 0 {
		ps.add("limits.busy_connect_timeout", "%s must not be negative (0 keeps connect_timeout)", a.BusyConnectTimeout)
	}
}
