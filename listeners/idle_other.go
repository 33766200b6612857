//go:build !unix

package listeners

import "syscall"

// waitReadable returns at once where peeking at a socket is not
// supported: the Read that follows waits instead.
func waitReadable(syscall.RawConn) error { return nil }
