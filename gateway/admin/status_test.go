package admin

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"edgemq/mqtt"
)

func TestTopClients(t *testing.T) {
	clients := []Client{ // by client id, as Clients.Clients returns them
		{ClientID: "a", BytesOut: 10, Version: mqtt.V5},
		{ClientID: "b", BytesOut: 30, Version: mqtt.V311},
		{ClientID: "c", BytesOut: 10, Version: mqtt.V5},
		{ClientID: "d", BytesOut: 0, Version: mqtt.V31},
	}
	tests := []struct {
		n    int
		want []string
	}{
		{10, []string{"b", "a", "c", "d"}}, // ties keep the client id order
		{2, []string{"b", "a"}},
		{0, []string{}},
	}
	for _, tt := range tests {
		got := topClients(clients, tt.n)
		ids := []string{}
		for _, it := range got {
			ids = append(ids, it.ClientID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("topClients(%d) = %v, want %v", tt.n, ids, tt.want)
		}
	}
	if got := topClients(clients, 1)[0]; got.Protocol != "3.1.1" || got.BytesOut != 30 {
		t.Errorf("top client %+v, want b at 3.1.1 with 30 bytes", got)
	}
	if got := topClients(nil, 10); got == nil {
		t.Error("no clients: nil, which encodes as null, not []")
	}
}

// TestFront checks the dashboard's routes in front of the token check:
// its files without the token, "/" redirected to them, the API still
// behind the token; without a dashboard, none of that.
func TestFront(t *testing.T) {
	const token = "front-token-0123456789"
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("file " + r.URL.Path)) })
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name      string
		dashboard http.Handler
		method    string
		target    string
		auth      bool
		want      int
		body      string
	}{
		{"file without token", files, "GET", "/dashboard/index.html", false, http.StatusOK, "file /index.html"},
		{"root redirects", files, "GET", "/", false, http.StatusFound, ""},
		{"api needs the token", files, "GET", "/api/v1/clients", false, http.StatusUnauthorized, ""},
		{"api with the token", files, "GET", "/api/v1/clients", true, http.StatusNoContent, ""},
		{"files only for GET", files, "POST", "/dashboard/index.html", false, http.StatusUnauthorized, ""},
		{"no dashboard", nil, "GET", "/dashboard/index.html", false, http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Server{b: Backend{Dashboard: tt.dashboard}, tokenSum: sha256.Sum256([]byte(token))}
			h := guard(a.front(a.authenticate(api)))
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.auth {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want || tt.body != "" && w.Body.String() != tt.body {
				t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.target, w.Code, w.Body, tt.want, tt.body)
			}
			if tt.want == http.StatusFound && w.Header().Get("Location") != DashboardPath {
				t.Errorf("redirect to %q, want %q", w.Header().Get("Location"), DashboardPath)
			}
		})
	}
}
