//go:build unix

package listeners

import (
	"errors"
	"syscall"
)

// waitReadable blocks until rc has bytes or an end of stream to read,
// without reading them: it peeks one byte, and while there is none waits
// in the runtime's poller, which obeys the read deadline. It peeks again
// after every wake-up, so a readiness left over from bytes already read
// does not end the wait.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Bytes, end of stream or an error: the Read tells which.
			return !errors.Is(err, syscall.EAGAIN)
		}
	})
}
