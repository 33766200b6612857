package broker

import (
	"testing"
	"unsafe"
)

// TestIdleFootprint: the structures every session holds stay within the
// allocation size classes issue 17 brought them to (Go rounds each
// allocation up to its class). Rarely used state goes to side structures
// made on demand (session_off.go, retained_feed.go); the broker's
// settings are shared (sessionEnv).
func TestIdleFootprint(t *testing.T) {
	tests := []struct {
		name      string
		size, max uintptr
	}{
		{"broker.Session", unsafe.Sizeof(Session{}), 288},
		{"broker.Owner", unsafe.Sizeof(Owner{}), 128},
	}
	for _, tt := range tests {
		if tt.size > tt.max {
			t.Errorf("%s is %d bytes, over its %d-byte size class", tt.name, tt.size, tt.max)
		}
	}
}
