package conn

import (
	"testing"
	"unsafe"
)

// TestIdleFootprint: the structures every connection holds stay within
// the allocation size classes issue 17 brought them to (Go rounds each
// allocation up to its class: a few bytes over a boundary cost the whole
// next class). An idle tcp connection's Conn (its Channel inline) and
// write queue (its encoder inline); a field added here should displace
// one, or go to a side structure made on demand (proto/channel_rare.go).
func TestIdleFootprint(t *testing.T) {
	tests := []struct {
		name      string
		size, max uintptr
	}{
		{"conn.Conn", unsafe.Sizeof(Conn{}), 512},
		{"conn.writeQueue", unsafe.Sizeof(writeQueue{}), 224},
	}
	for _, tt := range tests {
		if tt.size > tt.max {
			t.Errorf("%s is %d bytes, over its %d-byte size class", tt.name, tt.size, tt.max)
		}
	}
}
