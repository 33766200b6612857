package filewatch

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// write writes data to path through a temporary file renamed over it,
// with modification time mtime.
func write(tb testing.TB, path, data string, mtime time.Time) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// TestCheck drives a Watcher through the states its contract names, one
// look per step, with the time of each look given.
func TestCheck(t *testing.T) {
	const interval = time.Second
	t0 := time.Now().Add(-time.Hour)
	type look struct {
		name    string
		change  func(t *testing.T, path string) // before the look; nil: none
		at      time.Duration                   // the look's time, after t0
		changed bool
		err     error
	}
	tests := []struct {
		name  string
		looks []look
	}{
		{"nothing changed", []look{
			{"first", nil, time.Minute, false, nil},
			{"second", nil, 2 * time.Minute, false, nil},
		}},
		{"a fresh change settles at the next look", []look{
			{"written", func(t *testing.T, p string) { write(t, p, "two", t0.Add(time.Minute)) }, time.Minute, false, nil},
			{"unchanged since", nil, time.Minute + interval, true, nil},
			{"reported once", nil, time.Minute + 2*interval, false, nil},
		}},
		{"an old modification time is settled at once", []look{
			{"written", func(t *testing.T, p string) { write(t, p, "two", t0.Add(time.Minute)) }, 2 * time.Minute, true, nil},
		}},
		{"a writer still at it is waited for", []look{
			{"part", func(t *testing.T, p string) { write(t, p, "tw", t0.Add(time.Minute)) }, time.Minute, false, nil},
			{"more", func(t *testing.T, p string) { write(t, p, "two an", t0.Add(time.Minute+interval)) }, time.Minute + interval, false, nil},
			{"done", func(t *testing.T, p string) { write(t, p, "two and", t0.Add(time.Minute+2*interval)) }, time.Minute + 2*interval, false, nil},
			{"at rest", nil, time.Minute + 3*interval, true, nil},
		}},
		{"an empty file is an error, not a change", []look{
			{"truncated", func(t *testing.T, p string) { write(t, p, "", t0.Add(time.Minute)) }, 2 * time.Minute, false, ErrEmpty},
			{"still empty: reported once", nil, 3 * time.Minute, false, nil},
			{"written", func(t *testing.T, p string) { write(t, p, "three", t0.Add(3*time.Minute)) }, 4 * time.Minute, true, nil},
		}},
		{"a missing file is an error, not a change", []look{
			{"removed", func(t *testing.T, p string) { os.Remove(p) }, time.Minute, false, os.ErrNotExist},
			{"still missing: reported once", nil, time.Minute + interval, false, nil},
			{"back", func(t *testing.T, p string) { write(t, p, "back", t0.Add(time.Minute)) }, 2 * time.Minute, true, nil},
		}},
		{"a modification time in the future settles by looking twice", []look{
			{"written", func(t *testing.T, p string) { write(t, p, "future", t0.Add(2*time.Hour)) }, time.Minute, false, nil},
			{"unchanged", nil, time.Minute + interval, true, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			write(t, path, "one", t0)
			w := New(interval, path)
			for _, l := range tt.looks {
				if l.change != nil {
					l.change(t, path)
				}
				changed, err := w.Check(t0.Add(l.at))
				if changed != l.changed || !errors.Is(err, l.err) || (l.err == nil && err != nil) {
					t.Fatalf("%s: Check = %v, %v; want %v, %v", l.name, changed, err, l.changed, l.err)
				}
				if err != nil && !strings.Contains(err.Error(), path) {
					t.Errorf("%s: error %q does not name the file", l.name, err)
				}
			}
		})
	}
}

// TestCheckSeveralFiles: a change to any file of the set is a change of
// the set, settled when all are at rest.
func TestCheckSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	t0 := time.Now().Add(-time.Hour)
	write(t, a, "a", t0)
	write(t, b, "b", t0)
	w := New(time.Second, a, b)
	write(t, b, "b2", t0.Add(time.Minute))
	if changed, err := w.Check(t0.Add(2 * time.Minute)); !changed || err != nil {
		t.Fatalf("Check after b changed = %v, %v; want a change", changed, err)
	}
	write(t, a, "", t0.Add(3*time.Minute))
	if changed, err := w.Check(t0.Add(4 * time.Minute)); changed || !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), a) {
		t.Fatalf("Check after a emptied = %v, %v; want ErrEmpty naming a", changed, err)
	}
}

// TestPoll: Poll looks at most once per interval, and never with an
// interval of 0.
func TestPoll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	old := time.Now().Add(-3 * time.Hour)
	write(t, path, "one", old)
	never := New(0, path)
	hourly := New(time.Hour, path)
	if changed, err := hourly.Poll(); changed || err != nil {
		t.Fatalf("first Poll = %v, %v; want nothing", changed, err)
	}
	write(t, path, "two", old.Add(time.Minute))
	if changed, _ := hourly.Poll(); changed {
		t.Error("Poll looked again within the interval")
	}
	if changed, _ := never.Poll(); changed {
		t.Error("Poll with interval 0 looked")
	}
	if changed, err := hourly.Check(time.Now()); !changed || err != nil {
		t.Errorf("Check = %v, %v; want the change Poll skipped", changed, err)
	}
}

// TestRun: Run reports a change made while it runs, and returns when its
// ctx is done.
func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	write(t, path, "one", time.Now().Add(-time.Hour))
	w := New(time.Millisecond, path)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 10)
	var failures atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func() { changes <- struct{}{} }, func(error) { failures.Add(1) })
	}()
	write(t, path, "two", time.Now())
	select {
	case <-changes:
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx was done")
	}
	if n := failures.Load(); n != 0 {
		t.Errorf("%d failures reported for a whole file", n)
	}
	New(0, path).Run(context.Background(), nil, nil) // returns at once
}

func TestReadStable(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	empty := filepath.Join(dir, "empty")
	write(t, full, "data\n", time.Now())
	write(t, empty, "", time.Now())
	tests := []struct {
		path string
		want string
		err  error
	}{
		{full, "data\n", nil},
		{empty, "", ErrEmpty},
		{filepath.Join(dir, "none"), "", os.ErrNotExist},
	}
	for _, tt := range tests {
		got, err := ReadStable(tt.path)
		if string(got) != tt.want || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("ReadStable(%s) = %q, %v; want %q, %v", filepath.Base(tt.path), got, err, tt.want, tt.err)
		}
	}
}

// TestReadStableWhileWritten: a file grown while it is read is refused
// or read whole, never in part.
func TestReadStableWhileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop := make(chan struct{})
	written := make(chan int64)
	go func() {
		var n int64
		defer func() { written <- n }()
		line := []byte(strings.Repeat("x", 63) + "\n")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.Write(line); err != nil {
				return
			}
			n += int64(len(line))
			if n > 4<<20 {
				return
			}
		}
	}()
	refused := 0
	for range 50 {
		data, err := ReadStable(path)
		switch {
		case errors.Is(err, ErrChanging) || errors.Is(err, ErrEmpty):
			refused++
		case err != nil:
			t.Fatal(err)
		case len(data)%64 != 0:
			t.Fatalf("read %d bytes, not whole lines", len(data))
		}
	}
	close(stop)
	<-written
	t.Logf("%d of 50 reads refused while the file grew", refused)
}

// TestImportsStandardLibraryOnly: filewatch stays a leaf that certs and
// gateway can both import.
func TestImportsStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") || first == "edgemq" {
				t.Errorf("%s imports %s: filewatch imports the standard library only", name, path)
			}
		}
	}
}

// BenchmarkPollNotDue is what a password-file login pays for the watch
// between two looks: Poll when the interval has not passed.
func BenchmarkPollNotDue(b *testing.B) {
	path := filepath.Join(b.TempDir(), "f")
	write(b, path, "one", time.Now().Add(-time.Hour))
	w := New(time.Hour, path)
	w.Poll() // the look of this hour
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if changed, err := w.Poll(); changed || err != nil {
				b.Fatal("Poll looked within the interval")
			}
		}
	})
}

// BenchmarkCheck is one look: a stat per file.
func BenchmarkCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "f")
	write(b, path, "one", time.Now().Add(-time.Hour))
	w := New(time.Hour, path)
	now := time.Now()
	for b.Loop() {
		w.Check(now)
	}
}
