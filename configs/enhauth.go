package configs

import (
	"fmt"
	"time"
)

// SCRAMAuth configures the built-in MQTT 5 enhanced authentication
// methods SCRAM-SHA-256 and SCRAM-SHA-512 (auth.scram).
type SCRAMAuth struct {
	// File holds "user:entry" lines; the SCRAM entries
	// ("SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>",
	// the PostgreSQL format, SCRAM-SHA-512 likewise) are used, other
	// lines are ignored. Empty disables SCRAM: a CONNECT naming it gets
	// 0x8C.
	File string `yaml:"file"`
	// ReloadInterval is the least time between two checks of the file's
	// size and modification time; a change reloads it. 0 never reloads.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// BruteForce configures the delay before the CONNACK of a failed
// authentication (auth.brute_force).
type BruteForce struct {
	// Enabled turns the delay on.
	Enabled bool `yaml:"enabled"`
	// InitialDelay is the delay after the first failure of an address or
	// user name; each further failure doubles it.
	InitialDelay time.Duration `yaml:"initial_delay"`
	// MaxDelay caps the delay.
	MaxDelay time.Duration `yaml:"max_delay"`
	// ResetAfter forgets the failures of an address or user name after
	// this long without one.
	ResetAfter time.Duration `yaml:"reset_after"`
	// MaxEntries bounds the addresses and user names remembered (each);
	// the least recently failed are forgotten first.
	MaxEntries int `yaml:"max_entries"`
}

// validateEnhancedAuth checks auth.scram and auth.brute_force.
func (c *Config) validateEnhancedAuth(ps *problems) {
	if c.Auth.SCRAM.ReloadInterval < 0 {
		ps.add("auth.scram.reload_interval", "%v must not be negative", c.Auth.SCRAM.ReloadInterval)
	}
	b := &c.Auth.BruteForce
	if !b.Enabled {
		return
	}
	if b.InitialDelay <= 0 {
		ps.add("auth.brute_force.initial_delay", "%v must be positive", b.InitialDelay)
	}
	if b.MaxDelay < b.InitialDelay {
		ps.add("auth.brute_force.max_delay", "%v must be at least initial_delay (%v)", b.MaxDelay, b.InitialDelay)
	}
	if b.ResetAfter <= 0 {
		ps.add("auth.brute_force.reset_after", "%v must be positive", b.ResetAfter)
	}
	if b.MaxEntries < 1 {
		ps.add("auth.brute_force.max_entries", "%d must be at least 1", b.MaxEntries)
	}
}

// validateACLExtensions checks acl.file, acl.reload_interval and the rules'
// cert_identity, max_qos and the retain action.
func (c *Config) validateACLExtensions(ps *problems) {
	if c.ACL.ReloadInterval < 0 {
		ps.add("acl.reload_interval", "%v must not be negative", c.ACL.ReloadInterval)
	}
	for i, r := range c.ACL.Rules {
		if r.MaxQoS != nil && (*r.MaxQoS < 0 || *r.MaxQoS > 2) {
			ps.add(fmt.Sprintf("acl.rules[%d].max_qos", i), "%d is not 0, 1 or 2", *r.MaxQoS)
		}
	}
}
