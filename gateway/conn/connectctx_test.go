package conn

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// waitDone waits for ctx to end, failing after a generous bound.
func waitDone(t testing.TB, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context not done")
	}
}

// The handshake's context ends as context.WithDeadline's would: at its
// deadline, when released, or with its parent; it arms no timer unless
// someone waits on Done.
func TestConnectCtx(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration
		// run does something to the context (and its parent's cancel)
		// and returns the error it must end with.
		run func(t *testing.T, ctx context.Context, release, cancelParent func()) error
	}{
		{"deadline passes with no waiter", -time.Second, func(t *testing.T, ctx context.Context, _, _ func()) error {
			return context.DeadlineExceeded
		}},
		{"deadline passes while waited on", 20 * time.Millisecond, func(t *testing.T, ctx context.Context, _, _ func()) error {
			waitDone(t, ctx)
			return context.DeadlineExceeded
		}},
		{"released while waited on", time.Hour, func(t *testing.T, ctx context.Context, release, _ func()) error {
			done := ctx.Done()
			release()
			<-done
			return context.Canceled
		}},
		{"parent cancelled while waited on", time.Hour, func(t *testing.T, ctx context.Context, _, cancelParent func()) error {
			done := ctx.Done()
			cancelParent()
			<-done
			return context.Canceled
		}},
		{"parent cancelled with no waiter", time.Hour, func(t *testing.T, ctx context.Context, _, cancelParent func()) error {
			cancelParent()
			waitDone(t, ctx)
			return context.Canceled
		}},
		{"a child ends with it", time.Hour, func(t *testing.T, ctx context.Context, release, _ func()) error {
			child, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			release()
			waitDone(t, child)
			if !errors.Is(child.Err(), context.Canceled) {
				t.Errorf("child: %v, want canceled", child.Err())
			}
			return context.Canceled
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
			defer cancelParent()
			dl := time.Now().Add(tt.deadline)
			ctx, release := withConnectDeadline(parent, dl)
			defer release()
			if got, ok := ctx.Deadline(); !ok || !got.Equal(dl) {
				t.Errorf("Deadline() = %v, %v; want %v", got, ok, dl)
			}
			if ctx.Value(ctxKey{}) != "v" {
				t.Error("parent's value lost")
			}
			want := tt.run(t, ctx, release, cancelParent)
			if err := ctx.Err(); !errors.Is(err, want) {
				t.Errorf("Err() = %v, want %v", err, want)
			}
			select {
			case <-ctx.Done():
			default:
				t.Error("Err set but Done open")
			}
			ctx.mu.Lock()
			armed := ctx.timer != nil || ctx.stopParent != nil
			ctx.mu.Unlock()
			if armed {
				t.Error("timer or parent registration kept after the end")
			}
		})
	}
}

// Without a waiter the context arms nothing: an authenticator that only
// reads Err and Deadline costs no timer.
func TestConnectCtxNoWaiterNoTimer(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx, release := withConnectDeadline(parent, time.Now().Add(time.Hour))
	if ctx.Err() != nil {
		t.Fatalf("Err() = %v before the deadline", ctx.Err())
	}
	ctx.mu.Lock()
	armed := ctx.timer != nil || ctx.stopParent != nil || ctx.done != nil
	ctx.mu.Unlock()
	if armed {
		t.Error("armed a timer, a parent registration or a channel with no waiter")
	}
	release()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err() = %v after release, want canceled", ctx.Err())
	}
}
