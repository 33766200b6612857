package configs

import (
	"testing"
	"time"
)

// TestEnhancedAuthAndACLKeys: auth.scram, auth.brute_force and the ACL
// extensions parse, and bad values are refused with their path.
func TestEnhancedAuthAndACLKeys(t *testing.T) {
	c := parse(t, "auth:\n  scram:\n    file: /etc/edgemq/passwd\n  brute_force:\n    max_delay: 3s\n"+
		"acl:\n  file: /etc/edgemq/acl.yaml\n  rules:\n    - {permission: deny, action: retain, topic: '#', cert_identity: cn1, max_qos: 1}\n")
	if c.Auth.SCRAM.File != "/etc/edgemq/passwd" || c.Auth.SCRAM.ReloadInterval != 5*time.Second {
		t.Errorf("auth.scram = %+v", c.Auth.SCRAM)
	}
	if b := c.Auth.BruteForce; !b.Enabled || b.InitialDelay != 100*time.Millisecond || b.MaxDelay != 3*time.Second || b.MaxEntries != 10000 {
		t.Errorf("auth.brute_force = %+v", b)
	}
	if r := c.ACL.Rules[0]; r.Action != "retain" || r.CertIdentity != "cn1" || r.MaxQoS == nil || *r.MaxQoS != 1 || c.ACL.File == "" {
		t.Errorf("acl = %+v", c.ACL)
	}

	tests := []struct{ src, want string }{
		{"auth:\n  brute_force:\n    initial_delay: 0s\n", "auth.brute_force.initial_delay: 0s must be positive"},
		{"auth:\n  brute_force:\n    max_delay: 10ms\n", "auth.brute_force.max_delay: 10ms must be at least initial_delay"},
		{"auth:\n  brute_force:\n    reset_after: 0s\n", "auth.brute_force.reset_after: 0s must be positive"},
		{"auth:\n  brute_force:\n    max_entries: 0\n", "auth.brute_force.max_entries: 0 must be at least 1"},
		{"auth:\n  scram:\n    reload_interval: -1s\n", "auth.scram.reload_interval: -1s must not be negative"},
		{"acl:\n  reload_interval: -1s\n", "acl.reload_interval: -1s must not be negative"},
		{"acl:\n  rules:\n    - {permission: allow, action: all, topic: '#', max_qos: 3}\n", "acl.rules[0].max_qos: 3 is not 0, 1 or 2"},
	}
	for _, tt := range tests {
		wantContains(t, parseErr(t, tt.src), tt.want)
	}
	// Off: the delays are not checked.
	parse(t, "auth:\n  brute_force:\n    enabled: false\n    initial_delay: 0s\n")
}
