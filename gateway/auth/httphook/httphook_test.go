package httphook

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/listeners"
	"edgemq/mqtt"
)

func view(user string, port int) *auth.View {
	c := &mqtt.Connect{Version: mqtt.V5, Username: user, UsernameFlag: true, Password: []byte("pw"), PasswordFlag: true}
	meta := &listeners.Meta{Listener: "l", Transport: listeners.TCP, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: port}}
	return auth.NewView(meta, c, "c-"+user, "", false)
}

// TestHook: the hook's answers (allow with a rate limit, deny with a
// reason code, ignore) decide; a failing hook refuses with 0x88 Server
// unavailable, or lets in with fail_open; answers are cached by request
// (a reconnect from another port included), failures are not.
func TestHook(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decoding the request: %v", err)
		}
		switch req["username"] {
		case "ok":
			w.Write([]byte(`{"result":"allow","rate_limit":{"messages_per_second":3}}`))
		case "no":
			w.Write([]byte(`{"result":"deny","reason_code":134}`))
		case "other":
			w.Write([]byte(`{"result":"ignore"}`))
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	h := New("hook", configs.HTTPAuth{URL: srv.URL, Timeout: 10 * time.Second, CacheTTL: time.Hour}, srv.Client())

	v := view("ok", 1)
	if err := h.Authenticate(context.Background(), v); err != nil {
		t.Fatalf("allow: %v", err)
	}
	if r := v.Grant().Rate; r == nil || r.MessagesPerSecond == nil || *r.MessagesPerSecond != 3 {
		t.Errorf("allow's rate limit not handed on: %+v", r)
	}
	for _, tt := range []struct {
		user string
		want mqtt.ReasonCode // 0: ErrNotMine
	}{
		{"no", mqtt.BadUserNameOrPassword},
		{"other", 0},
		{"broken", mqtt.ServerUnavailable},
	} {
		err := h.Authenticate(context.Background(), view(tt.user, 1))
		if (tt.want == 0 && !errors.Is(err, auth.ErrNotMine)) || (tt.want != 0 && (err == nil || mqtt.CodeOf(err) != tt.want)) {
			t.Errorf("%s: %v, want %v", tt.user, err, tt.want)
		}
	}
	before := asked.Load()
	v = view("ok", 2) // a reconnect from another port
	if err := h.Authenticate(context.Background(), v); err != nil || asked.Load() != before {
		t.Errorf("cached allow: %v, hook asked %d more times, want 0", err, asked.Load()-before)
	}
	if r := v.Grant().Rate; r == nil {
		t.Error("a cached allow does not hand on its rate limit")
	}
	if err := h.Authenticate(context.Background(), view("broken", 1)); err == nil || asked.Load() != before+1 {
		t.Errorf("a failure was cached: %v", err)
	}
	open := New("hook", configs.HTTPAuth{URL: srv.URL, Timeout: 10 * time.Second, FailOpen: true}, srv.Client())
	if err := open.Authenticate(context.Background(), view("broken", 1)); err != nil {
		t.Errorf("fail_open with a failing hook: %v, want allowed", err)
	}
}
