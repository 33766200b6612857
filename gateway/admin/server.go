package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
)

// Server is the admin API listener: bound by Listen, served by Start.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *zap.Logger
	b   Backend
	// tokenSum is the SHA-256 of the token: comparing fixed-size sums in
	// constant time does not leak the token's length.
	tokenSum [sha256.Size]byte
}

// Listen binds the admin listener on cfg.Address (which must be set),
// with the token of cfg.Token or cfg.TokenFile, serving b.
func Listen(cfg configs.Admin, b Backend, log *zap.Logger) (*Server, error) {
	token := cfg.Token
	if cfg.TokenFile != "" {
		raw, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading admin.token_file: %w", err)
		}
		if token = strings.TrimSpace(string(raw)); token == "" {
			return nil, fmt.Errorf("reading admin.token_file: %s is empty", cfg.TokenFile)
		}
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, err
	}
	if !loopbackOnly(ln.Addr()) {
		log.Warn("admin api listens beyond loopback", zap.Stringer("address", ln.Addr()))
	}
	a := &Server{ln: ln, log: log, b: b, tokenSum: sha256.Sum256([]byte(token))}
	a.srv = &http.Server{
		Handler:           guard(a.front(a.authenticate(a.routes()))), // guard.go
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}
	return a, nil
}

// DashboardPath is where the admin listener serves the dashboard.
const DashboardPath = "/dashboard/"

// front routes the listener's requests: the dashboard's files (no
// token) and "/" redirected to them when there is a dashboard, and
// everything else to api (the authenticated /api/v1 routes).
func (a *Server) front(api http.Handler) http.Handler {
	if a.b.Dashboard == nil {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+DashboardPath, http.StripPrefix(strings.TrimSuffix(DashboardPath, "/"), a.b.Dashboard))
	mux.Handle("GET /{$}", http.RedirectHandler(DashboardPath, http.StatusFound))
	mux.Handle("/", api)
	return mux
}

// Handler returns the API's handler, as the listener serves it (guard,
// dashboard, token, routes): for serving it elsewhere, or in tests.
func (a *Server) Handler() http.Handler { return a.srv.Handler }

// loopbackOnly reports whether a bound address is on loopback only.
func loopbackOnly(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Addr returns the bound address.
func (a *Server) Addr() net.Addr { return a.ln.Addr() }

// Start serves the listener until the returned stop is called; stop shuts
// the server down, waiting up to two seconds for requests in flight. The
// "admin api listening" line carries the address and fields (URLs).
func (a *Server) Start(fields ...zap.Field) (stop func()) {
	a.log.Info("admin api listening", append([]zap.Field{zap.Stringer("address", a.ln.Addr())}, fields...)...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin listener failed", zap.Error(err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			a.srv.Close()
		}
		<-done
	}
}

// Close closes a listener that was bound but never served.
func (a *Server) Close() {
	a.srv.Close()
	a.ln.Close()
}

// authenticate lets through requests carrying the bearer token
// (RFC 6750), compared in constant time; others get 401.
func (a *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235 2.1).
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgemq"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// route is one path of the API with its method handlers.
type route struct {
	path    string
	methods map[string]http.HandlerFunc
}

// routes builds the /api/v1 routes. Each path also gets a method-less
// pattern answering 405 in JSON, and anything else a JSON 404.
func (a *Server) routes() http.Handler {
	routes := []route{
		{"/api/v1/clients", map[string]http.HandlerFunc{"GET": a.listClients}},
		{"/api/v1/clients/{id}", map[string]http.HandlerFunc{"GET": a.getClient, "DELETE": a.kickClient}},
		{"/api/v1/sessions", map[string]http.HandlerFunc{"GET": a.listSessions}},
		{"/api/v1/sessions/{id}", map[string]http.HandlerFunc{"GET": a.getSession, "DELETE": a.deleteSession}},
		{"/api/v1/retained", map[string]http.HandlerFunc{"GET": a.listRetained}},
		{"/api/v1/retained/{topic...}", map[string]http.HandlerFunc{"DELETE": a.deleteRetained}},
		{"/api/v1/publish", map[string]http.HandlerFunc{"POST": a.publish}},
		{"/api/v1/reload", map[string]http.HandlerFunc{"POST": a.reload}},
		{"/api/v1/drain", map[string]http.HandlerFunc{"POST": a.drain}},
		{"/api/v1/status", map[string]http.HandlerFunc{"GET": a.status}},     // status.go
		{"/api/v1/overview", map[string]http.HandlerFunc{"GET": a.overview}}, // status.go
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		var allow []string
		for m, h := range rt.methods {
			mux.HandleFunc(m+" "+rt.path, h)
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow)
		allowed := strings.Join(allow, ", ")
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, "method %s not allowed; allowed: %s", r.Method, allowed)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	})
	return mux
}
