//go:build !lockorder

package lockorder

import "sync"

// Mutex is a sync.Mutex of class C. The zero value is unlocked.
type Mutex[C Class] struct{ m sync.Mutex }

// Lock locks m.
func (m *Mutex[C]) Lock() { m.m.Lock() }

// TryLock tries to lock m and reports whether it did.
func (m *Mutex[C]) TryLock() bool { return m.m.TryLock() }

// Unlock unlocks m.
func (m *Mutex[C]) Unlock() { m.m.Unlock() }

// RWMutex is a sync.RWMutex of class C. The zero value is unlocked.
type RWMutex[C Class] struct{ m sync.RWMutex }

// Lock locks rw for writing.
func (rw *RWMutex[C]) Lock() { rw.m.Lock() }

// Unlock unlocks rw for writing.
func (rw *RWMutex[C]) Unlock() { rw.m.Unlock() }

// RLock locks rw for reading.
func (rw *RWMutex[C]) RLock() { rw.m.RLock() }

// RUnlock undoes one RLock.
func (rw *RWMutex[C]) RUnlock() { rw.m.RUnlock() }
