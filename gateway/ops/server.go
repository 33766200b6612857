package ops

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

// Server is the ops HTTP listener: /metrics, /healthz and /readyz. It is
// bound by Listen and served by Start.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *zap.Logger
}

// Listen binds the ops listener on address, serving m's registry and the
// health of src.
func Listen(address string, m *Metrics, src Source, log *zap.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(log)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { serveReady(w, src) })
	return &Server{ln: ln, log: log, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Addr returns the bound address.
func (o *Server) Addr() net.Addr { return o.ln.Addr() }

// Start serves the listener until the returned stop is called; stop shuts
// the server down, waiting up to two seconds for requests in flight. The
// "ops listening" line carries the address and fields (URLs).
func (o *Server) Start(fields ...zap.Field) (stop func()) {
	o.log.Info("ops listening", append([]zap.Field{zap.Stringer("address", o.ln.Addr())}, fields...)...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("ops listener failed", zap.Error(err))
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

// Close closes a listener that was bound but never served.
func (o *Server) Close() {
	o.srv.Close()
	o.ln.Close()
}

// Readiness is the /readyz body.
type Readiness struct {
	Ready    bool     `json:"ready"`
	NotReady []string `json:"not_ready,omitempty"`
}

// NotReady lists, sorted, what keeps a server of health h from being
// ready: listeners not serving ("listener NAME"), certificate sources
// without a certificate ("tls NAME"; ACME sources are not asked, as
// asking may start an issuance), a closed store ("store"), a shutdown in
// progress ("shutting down"), a cluster node whose NATS link is down
// ("cluster link") or that rechecks its ownership before serving again
// ("cluster rechecking").
func NotReady(h Health) []string {
	var out []string
	for _, l := range h.Listeners {
		if !l.Up {
			out = append(out, "listener "+l.Name)
		}
	}
	for _, src := range h.TLS {
		if !acme(src) && leafOf(src.Source.TLSConfig()) == nil {
			out = append(out, "tls "+src.Name)
		}
	}
	if h.StoreClosed {
		out = append(out, "store")
	}
	if h.Draining {
		out = append(out, "shutting down")
	}
	out = append(out, clusterNotReady(h.Cluster)...) // cluster.go
	sort.Strings(out)
	return out
}

func serveReady(w http.ResponseWriter, src Source) {
	nr := NotReady(src.Health())
	w.Header().Set("Content-Type", "application/json")
	if len(nr) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(Readiness{Ready: len(nr) == 0, NotReady: nr})
}
