package admin

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestGuardAndAuthenticate drives the handler chain the listener serves
// (guard, then the token check) with requests that must never reach the
// routes, and one that must.
func TestGuardAndAuthenticate(t *testing.T) {
	const token = "unit-token-0123456789"
	a := &Server{tokenSum: sha256.Sum256([]byte(token))}
	reached := 0
	h := guard(a.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusNoContent)
	})))
	tests := []struct {
		name, target, auth string
		want               int
	}{
		{"good token", "/api/v1/clients", "Bearer " + token, http.StatusNoContent},
		{"scheme case-insensitive", "/api/v1/clients", "bearer " + token, http.StatusNoContent},
		{"no token", "/api/v1/clients", "", http.StatusUnauthorized},
		{"wrong token", "/api/v1/clients", "Bearer nope", http.StatusUnauthorized},
		{"prefix of the token", "/api/v1/clients", "Bearer " + token[:5], http.StatusUnauthorized},
		{"basic scheme", "/api/v1/clients", "Basic " + token, http.StatusUnauthorized},
		{"access_token in the query, good header", "/api/v1/clients?access_token=" + token, "Bearer " + token, http.StatusBadRequest},
		{"token in the query", "/api/v1/clients?token=x", "", http.StatusBadRequest},
		{"dot-dot", "/api/v1/clients/../sessions", "Bearer " + token, http.StatusBadRequest},
		{"dot", "/api/v1/./clients", "Bearer " + token, http.StatusBadRequest},
		{"encoded dot-dot is text", "/api/v1/clients/%2E%2E", "Bearer " + token, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if got := reached - before; (tt.want == http.StatusNoContent) != (got == 1) {
				t.Errorf("reached the route %d times", got)
			}
			if tt.want == http.StatusNoContent {
				return
			}
			var e ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Errorf("body %s is not a JSON error", w.Body)
			}
			if tt.want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Bearer realm="edgemq"` {
				t.Errorf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestParseDisconnectCode(t *testing.T) {
	tests := []struct {
		reason string
		want   byte
		ok     bool
	}{
		{"", 0x98, true},
		{"0x98", 0x98, true},
		{"152", 0x98, true},
		{"0x8B", 0x8B, true},
		{"0x00", 0x00, true},
		{"0x04", 0, false}, // Disconnect with Will Message: a client's code only
		{"0x10", 0, false}, // No matching subscribers: not a DISCONNECT code
		{"256", 0, false},
		{"x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			code, ok := parseDisconnectCode(httptest.NewRequest("DELETE", "/api/v1/clients/c?reason="+tt.reason, nil))
			if ok != tt.ok || ok && byte(code) != tt.want {
				t.Errorf("code 0x%02X ok %v, want 0x%02X %v", byte(code), ok, tt.want, tt.ok)
			}
		})
	}
}
