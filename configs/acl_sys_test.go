package configs

import (
	"testing"
	"time"
)

func TestSysInterval(t *testing.T) {
	if got := parse(t, "").Sys.Interval; got != 10*time.Second {
		t.Errorf("default sys.interval = %s, want 10s", got)
	}
	cfg, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Sys.Interval; got != 30*time.Second {
		t.Errorf("full.yaml sys.interval = %s, want 30s", got)
	}
	for _, ok := range []string{"0s", "100ms", "1h"} {
		parse(t, "sys:\n  interval: "+ok+"\n")
	}
	for _, bad := range []string{"-1s", "1ms", "99ms"} {
		wantContains(t, parseErr(t, "sys:\n  interval: "+bad+"\n"),
			"test.yaml:2: sys.interval: "+bad+" must be 0 (disabled) or at least 100ms")
	}
	wantContains(t, parseErr(t, "sys:\n  interval: often\n"), "test.yaml:2: sys.interval")
}

func TestACLRuleTopic(t *testing.T) {
	for _, ok := range []string{"#", "devices/%u/#", "clients/%c/+/x", "a/%u-%c/b", "$SYS/#", "100%"} {
		parse(t, "acl:\n  rules:\n    - {permission: allow, action: all, topic: '"+ok+"'}\n")
	}
	tests := []struct{ topic, want string }{
		{"a/#/b", `acl.rules[0].topic: "a/#/b" is not a valid topic filter`},
		{"a/b+", `acl.rules[0].topic: "a/b+" is not a valid topic filter`},
		{"%u+/x", `acl.rules[0].topic: "%u+/x" is not a valid topic filter`},
		{"$share/g/a", `acl.rules[0].topic: "$share/g/a" is a shared subscription`},
	}
	for _, tt := range tests {
		src := "acl:\n  rules:\n    - {permission: deny, action: publish, topic: '" + tt.topic + "'}\n"
		wantContains(t, parseErr(t, src), "test.yaml:3: "+tt.want)
	}
}
