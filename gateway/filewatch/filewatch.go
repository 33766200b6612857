// Package filewatch tells when files a server reloads (a password file,
// an ACL file, certificate and key files) have changed, by polling their
// status, and reads them whole. It is a leaf: it imports the standard
// library only, so that certs, gateway and the packages under them can
// all use it without importing one another.
package filewatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stamp is what a look at one file sees: its size and modification
// time, or that it is missing.
type Stamp struct {
	Size    int64
	ModTime time.Time
	Missing bool
}

// Equal reports whether a and b saw the same file state.
func (a Stamp) Equal(b Stamp) bool {
	return a.Size == b.Size && a.ModTime.Equal(b.ModTime) && a.Missing == b.Missing
}

// StampOf looks at path; a file that cannot be stat'ed is Missing.
func StampOf(path string) Stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{Missing: true}
	}
	return Stamp{Size: fi.Size(), ModTime: fi.ModTime()}
}

// ErrEmpty is wrapped by the error of ReadStable, and of a change
// Watcher reports, when a file is empty.
var ErrEmpty = errors.New("file is empty")

// ErrChanging is wrapped by the error of ReadStable when the file changed
// while it was read.
var ErrChanging = errors.New("file changed while it was read")

// ReadStable reads the whole file at path, and only a file at rest: it
// refuses an empty file (ErrEmpty: what a file rewritten in place looks
// like between its truncation and its write; a file meant to hold no
// entries holds a comment) and a file whose size or modification time
// changed during the read, or whose size is not the bytes read
// (ErrChanging: a writer is at it). Errors name the path.
func ReadStable(path string) ([]byte, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	switch {
	case before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) || int64(len(data)) != after.Size():
		return nil, fmt.Errorf("reading %s: %w", path, ErrChanging)
	case len(data) == 0:
		return nil, fmt.Errorf("reading %s: %w", path, ErrEmpty)
	}
	return data, nil
}

// Watcher watches a fixed set of files for changes by polling their
// status. Its contract:
//
//   - Interval. Poll looks at most once per interval (calls in between
//     return nothing), for callers that check when they are used, with no
//     goroutine; Run looks every interval until its ctx is done. An
//     interval of 0 or less means never: Poll and Run do nothing.
//   - What counts as a change: the size or modification time of a file
//     differs from the last look that reported, or the file appeared or
//     vanished (StampOf). The first reference is what New saw, so make
//     the Watcher before loading the files the first time: a change in
//     between is then reported, not lost. Content rewritten with the same
//     size and modification time is not seen (file systems keep
//     modification times in nanoseconds or, at worst, seconds).
//   - Settling: a change is reported only once it has settled, so that a
//     writer still at it is waited for: the same stamps were seen by the
//     previous look, or every file's modification time is at least one
//     interval old (a missing file has none and counts as at rest). A
//     change is thus reported one or two intervals after the write.
//   - Partial writes: a settled change while a file is missing or empty
//     is reported as an error (wrapping os.ErrNotExist or ErrEmpty) and
//     not as a change: an empty file is what a rewrite in place looks like
//     between its truncation and its write, and must not be installed.
//     The caller keeps what it has; the write that completes the file is
//     a change of its own. The caller reads the files with ReadStable,
//     which refuses a file that changes during the read.
//   - Once: each settled state is reported once, whether the caller then
//     loads it or fails to (a broken file is logged once, and tried again
//     when it changes again).
//   - Atomic replacement (write a temporary file in the same directory,
//     then rename it over the path) is the way to update a watched file:
//     the path always names a whole file, and the rename is one change.
//
// A Watcher is safe for concurrent use; looks are serialized.
type Watcher struct {
	paths    []string
	interval time.Duration

	mu sync.Mutex
	// reported are the stamps of the last state reported (or New's).
	reported []Stamp
	// seen are the stamps of the last look, for settling.
	seen []Stamp

	// polled is when Poll last looked (Unix nanoseconds): a Poll that is
	// not due costs an atomic load, no lock.
	polled atomic.Int64
}

// New returns a Watcher of paths, polled every interval, with their
// current state as the reference.
func New(interval time.Duration, paths ...string) *Watcher {
	w := &Watcher{paths: slices.Clone(paths), interval: interval}
	w.reported = w.stamps()
	w.seen = w.reported
	return w
}

func (w *Watcher) stamps() []Stamp {
	st := make([]Stamp, len(w.paths))
	for i, p := range w.paths {
		st[i] = StampOf(p)
	}
	return st
}

// Poll looks at the files, unless it did less than an interval ago, and
// reports as Check does.
func (w *Watcher) Poll() (changed bool, err error) {
	if w.interval <= 0 {
		return false, nil
	}
	now := time.Now()
	last := w.polled.Load()
	if now.UnixNano()-last < int64(w.interval) || !w.polled.CompareAndSwap(last, now.UnixNano()) {
		return false, nil // not due, or another caller looks now
	}
	return w.Check(now)
}

// Check looks at the files now, whatever the interval, with now as the
// time for settling. It reports changed when the files changed and the
// change settled; err, and not changed, when such a change leaves a file
// missing or empty. Each settled state is reported once.
func (w *Watcher) Check(now time.Time) (changed bool, err error) {
	st := w.stamps()
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.seen
	w.seen = st
	if equal(st, w.reported) {
		return false, nil
	}
	settled := equal(st, prev)
	if !settled {
		settled = true
		for _, s := range st {
			if !s.Missing && now.Sub(s.ModTime) < w.interval {
				settled = false
			}
		}
	}
	if !settled {
		return false, nil
	}
	w.reported = st
	for i, s := range st {
		switch {
		case s.Missing:
			return false, fmt.Errorf("%s: %w", w.paths[i], os.ErrNotExist)
		case s.Size == 0:
			return false, fmt.Errorf("%s: %w", w.paths[i], ErrEmpty)
		}
	}
	return true, nil
}

// Run looks at the files every interval until ctx is done, and calls
// changed after each look that reports a change, and failed after each
// that reports an error; either may be nil. They run on Run's goroutine,
// one at a time. With an interval of 0 or less Run returns at once.
func (w *Watcher) Run(ctx context.Context, changed func(), failed func(error)) {
	if w.interval <= 0 {
		return
	}
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ok, err := w.Check(time.Now())
			switch {
			case err != nil && failed != nil:
				failed(err)
			case ok && changed != nil:
				changed()
			}
		}
	}
}

func equal(a, b []Stamp) bool {
	return slices.EqualFunc(a, b, Stamp.Equal)
}
