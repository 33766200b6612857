package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// opsServer is the operations HTTP listener (ops.address): /metrics,
// /healthz and /readyz. It is bound by NewContext and served by Run.
type opsServer struct {
	ln  net.Listener
	srv *http.Server
}

// newOps binds the ops listener when ops.address is set.
func (s *Server) newOps() error {
	if s.config().Ops.Address == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.config().Ops.Address)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(s.log)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("/readyz", s.serveReady)
	s.ops = &opsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	return nil
}

// OpsAddr returns the bound address of the ops listener, or nil.
func (s *Server) OpsAddr() net.Addr {
	if s.ops == nil {
		return nil
	}
	return s.ops.ln.Addr()
}

// startOps serves the ops listener until the returned stop is called.
func (s *Server) startOps() (stop func()) {
	o := s.ops
	if o == nil {
		return func() {}
	}
	s.log.Info("ops listening", append([]zap.Field{zap.Stringer("address", o.ln.Addr())}, opsURLFields(s.config().Ops.Address, o.ln.Addr())...)...) // endpoints.go
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops listener failed", zap.Error(err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := o.srv.Shutdown(ctx); err != nil {
			o.srv.Close()
		}
		<-done
	}
}

// closeOps closes an ops listener that was bound but never served.
func (s *Server) closeOps() {
	if s.ops != nil {
		s.ops.srv.Close()
		s.ops.ln.Close()
	}
}

// readiness is the /readyz body.
type readiness struct {
	Ready    bool     `json:"ready"`
	NotReady []string `json:"not_ready,omitempty"`
}

// notReady lists what keeps the server from being ready: listeners not
// serving, certificate sources without a certificate, a closed store,
// a shutdown in progress.
func (s *Server) notReady() []string {
	var out []string
	for _, l := range s.lsts {
		if !l.up.Load() {
			out = append(out, "listener "+l.cfg.Name)
		}
	}
	srcs, tlsCfg := s.tlsSources() // reload.go
	for name, src := range srcs {
		switch tlsCfg[name].Source {
		case "certmagic", "autocert":
			continue // not knowable without starting an issuance
		}
		if leafOf(src.TLSConfig()) == nil {
			out = append(out, "tls "+name)
		}
	}
	if s.storeClosed.Load() {
		out = append(out, "store")
	}
	if s.isDraining() {
		out = append(out, "shutting down")
	}
	sort.Strings(out)
	return out
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	nr := s.notReady()
	w.Header().Set("Content-Type", "application/json")
	if len(nr) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(readiness{Ready: len(nr) == 0, NotReady: nr})
}
