package listeners

import (
	"net/http"
	"testing"
)

// TestUpgradeRequest: what is kept of an upgrade request answers like the
// request did for what authentication reads, drops the handshake's own
// headers, and a nil one (tcp, tls) answers "".
func TestUpgradeRequest(t *testing.T) {
	h := http.Header{
		"Authorization":          {"Bearer tok"},
		"Cookie":                 {"a=1; session=abc", "later=2"},
		"X-Device":               {"d1", "d2"},
		"Sec-Websocket-Protocol": {"mqtt"},
		"Sec-Websocket-Key":      {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Upgrade":                {"websocket"},
		"Connection":             {"Upgrade"},
	}
	u := NewUpgradeRequest(h, "token=t1&x=%20y&token=t2")
	var none *UpgradeRequest
	tests := []struct {
		name, got, want string
	}{
		{"header", u.Header("Authorization"), "Bearer tok"},
		{"header in another case", u.Header("x-device"), "d1"},
		{"subprotocol header", u.Header("Sec-WebSocket-Protocol"), "mqtt"},
		{"handshake key dropped", u.Header("Sec-WebSocket-Key"), ""},
		{"upgrade dropped", u.Header("Upgrade"), ""},
		{"missing header", u.Header("X-None"), ""},
		{"cookie", u.Cookie("session"), "abc"},
		{"cookie of a second header", u.Cookie("later"), "2"},
		{"missing cookie", u.Cookie("none"), ""},
		{"query", u.Query("token"), "t1"},
		{"escaped query", u.Query("x"), " y"},
		{"missing query", u.Query("none"), ""},
		{"nil header", none.Header("Authorization"), ""},
		{"nil cookie", none.Cookie("session"), ""},
		{"nil query", none.Query("token"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if vs := u.Values("X-Device"); len(vs) != 2 || vs[0] != "d1" || vs[1] != "d2" {
		t.Errorf("Values(X-Device) = %q, want d1 d2", vs)
	}
}
