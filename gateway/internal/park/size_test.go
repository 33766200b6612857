package park

import (
	"testing"
	"unsafe"
)

// TestIdleFootprint: every parkable connection holds a Handle; it stays
// within the 80-byte allocation size class (Go rounds an allocation up
// to its class: 8 bytes more would cost 16).
func TestIdleFootprint(t *testing.T) {
	if got, max := unsafe.Sizeof(Handle{}), uintptr(80); got > max {
		t.Errorf("park.Handle is %d bytes, over its %d-byte size class", got, max)
	}
}
