package cluster

import (
	"regexp"
	"testing"
)

// validKey is what nats.go accepts as a KV key.
var validKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

var keyCases = []struct{ name, key string }{
	{"sensor-1", "sensor-1"},
	{"a_b", "a_b"},
	{"", "="},
	{"a.b", "a=2Eb"},
	{".", "=2E"},
	{"a/b", "a=2Fb"},
	{"=", "=3D"},
	{"sp ace", "sp=20ace"},
	{"é", "=C3=A9"},
	{"client:42", "client=3A42"},
	{"*>", "=2A=3E"},
}

func TestKeyEncoding(t *testing.T) {
	for _, tc := range keyCases {
		got := SessionKey(tc.name)
		if got != tc.key {
			t.Errorf("SessionKey(%q) = %q, want %q", tc.name, got, tc.key)
		}
		if !validKey.MatchString(got) || got[0] == '.' || got[len(got)-1] == '.' {
			t.Errorf("SessionKey(%q) = %q is not a valid KV key", tc.name, got)
		}
		back, err := KeyName(got)
		if err != nil || back != tc.name {
			t.Errorf("KeyName(%q) = %q, %v; want %q", got, back, err, tc.name)
		}
	}
	for _, bad := range []string{"", "=2", "=41", "a.b", "=ZZ", "a=2e"} {
		if got, err := KeyName(bad); err == nil {
			t.Errorf("KeyName(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzKeyRoundTrip: every client id has a valid key that maps back.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(tc.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key := SessionKey(name)
		if !validKey.MatchString(key) {
			t.Fatalf("SessionKey(%q) = %q is not a valid KV key", name, key)
		}
		back, err := KeyName(key)
		if err != nil || back != name {
			t.Fatalf("KeyName(SessionKey(%q)) = %q, %v", name, back, err)
		}
	})
}
