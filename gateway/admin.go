package gateway

// The admin API: JSON over HTTP on a listener of its own (admin.address,
// loopback by default), every request authenticated with a bearer token.
// Routes are under /api/v1 (admin_clients.go, admin_sessions.go and
// here); errors are {"error": "..."} with 400 (bad input), 401 (no or
// wrong token, with WWW-Authenticate: Bearer; a token in the query string
// or a path with dot segments is a 400, admin_guard.go), 404, 405 (with Allow),
// 409, 413 (body too large), 422 (refused reload) and 503.
//
// Locks: the handlers take each lock alone, briefly, and copy data out:
// Server.mu to list the connections, then each session.mu in turn, a
// writeQueue.mu for its depth, retainedStore.mu; discarding a session
// takes registry.mu → session.mu, in the order of registry.go. No lock
// is held while calling into a connection: a kick (channel.kick) goes
// through the connection's own close path, as the drain does.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// adminMaxBody bounds a request body: a POST /publish payload in base64
// with its JSON around it.
const adminMaxBody = 4 << 20

// adminClientID is the publisher of POST /publish messages, for No Local.
const adminClientID = "$admin"

// adminServer is the admin API listener. It is bound by NewContext and
// served by Run.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
	// tokenSum is the SHA-256 of the token: comparing fixed-size sums in
	// constant time does not leak the token's length.
	tokenSum [sha256.Size]byte
}

// newAdmin binds the admin listener when admin.address is set, reading
// admin.token_file.
func (s *Server) newAdmin() error {
	ac := s.config().Admin
	if ac.Address == "" {
		return nil
	}
	token := ac.Token
	if ac.TokenFile != "" {
		b, err := os.ReadFile(ac.TokenFile)
		if err != nil {
			return fmt.Errorf("reading admin.token_file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return fmt.Errorf("reading admin.token_file: %s is empty", ac.TokenFile)
		}
	}
	ln, err := net.Listen("tcp", ac.Address)
	if err != nil {
		return err
	}
	if !loopbackOnly(ln.Addr()) {
		s.log.Warn("admin api listens beyond loopback", zap.Stringer("address", ln.Addr()))
	}
	a := &adminServer{ln: ln, tokenSum: sha256.Sum256([]byte(token))}
	a.srv = &http.Server{
		Handler:           adminGuard(s.adminFront(a.authenticate, a.authenticate(s.adminRoutes()))), // admin_guard.go, admin_dashboard.go
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	s.admin = a
	return nil
}

// loopbackOnly reports whether a bound address is on loopback only.
func loopbackOnly(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// AdminAddr returns the bound address of the admin listener, or nil.
func (s *Server) AdminAddr() net.Addr {
	if s.admin == nil {
		return nil
	}
	return s.admin.ln.Addr()
}

// startAdmin serves the admin listener until the returned stop is called.
func (s *Server) startAdmin() (stop func()) {
	a := s.admin
	if a == nil {
		return func() {}
	}
	s.log.Info("admin api listening", append([]zap.Field{zap.Stringer("address", a.ln.Addr())}, adminURLFields(s.config().Admin.Address, a.ln.Addr())...)...) // endpoints.go
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener failed", zap.Error(err))
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

// closeAdmin closes an admin listener that was bound but never served.
func (s *Server) closeAdmin() {
	if s.admin != nil {
		s.admin.srv.Close()
		s.admin.ln.Close()
	}
}

// RequestDrain starts the graceful drain Run does when its context is
// cancelled (stop accepting, disconnect clients over drain.period); Run
// returns nil afterwards. It does not wait; calling it again does nothing.
func (s *Server) RequestDrain() {
	s.drainOnce.Do(func() { close(s.drainReq) })
}

// authenticate lets through requests carrying the bearer token
// (RFC 6750), compared in constant time; others get 401.
func (a *adminServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235 2.1).
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgemq"`)
			writeAdminError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminRoute is one path of the admin API with its method handlers.
type adminRoute struct {
	path    string
	methods map[string]http.HandlerFunc
}

// adminRoutes builds the /api/v1 routes. Each path also gets a method-less
// pattern answering 405 in JSON, and anything else a JSON 404.
func (s *Server) adminRoutes() http.Handler {
	routes := []adminRoute{
		{"/api/v1/clients", map[string]http.HandlerFunc{"GET": s.adminListClients}},
		{"/api/v1/clients/{id}", map[string]http.HandlerFunc{"GET": s.adminGetClient, "DELETE": s.adminKickClient}},
		{"/api/v1/sessions", map[string]http.HandlerFunc{"GET": s.adminListSessions}},
		{"/api/v1/sessions/{id}", map[string]http.HandlerFunc{"GET": s.adminGetSession, "DELETE": s.adminDeleteSession}},
		{"/api/v1/retained", map[string]http.HandlerFunc{"GET": s.adminListRetained}},
		{"/api/v1/retained/{topic...}", map[string]http.HandlerFunc{"DELETE": s.adminDeleteRetained}},
		{"/api/v1/publish", map[string]http.HandlerFunc{"POST": s.adminPublish}},
		{"/api/v1/reload", map[string]http.HandlerFunc{"POST": s.adminReload}},
		{"/api/v1/drain", map[string]http.HandlerFunc{"POST": s.adminDrain}},
		{"/api/v1/status", map[string]http.HandlerFunc{"GET": s.adminStatus}}, // admin_status.go
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
			writeAdminError(w, http.StatusMethodNotAllowed, "method %s not allowed; allowed: %s", r.Method, allowed)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAdminError(w, http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	})
	return mux
}

// writeAdminJSON writes v as the JSON body with status.
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// adminError is the body of every error answer.
type adminError struct {
	Error string `json:"error"`
}

func writeAdminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeAdminJSON(w, status, adminError{Error: fmt.Sprintf(format, args...)})
}

// adminPage is a paged listing: items in a stable order (client id, topic) and
// next, the cursor of the following page, empty on the last one.
type adminPage[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// adminPageParams are the limit and after query parameters of a listing.
type adminPageParams struct {
	limit int
	after string // the decoded cursor: the last key of the previous page
}

const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// parseAdminPage reads limit (default 100, at most 1000) and after (a cursor
// from a previous page's next).
func parseAdminPage(r *http.Request) (adminPageParams, error) {
	p := adminPageParams{limit: defaultPageLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return p, fmt.Errorf("limit %q is not a number from 1 to %d", v, maxPageLimit)
		}
		p.limit = n
	}
	if v := q.Get("after"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			return p, fmt.Errorf("after %q is not a cursor", v)
		}
		p.after = string(b)
	}
	return p, nil
}

// adminCursor is the cursor naming key: opaque to clients, any byte safe in
// a query string.
func adminCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// paginateAdmin returns the page of sorted after p.after: at most p.limit
// items, and the cursor of the next page when more follow.
func paginateAdmin[T any](sorted []T, key func(T) string, p adminPageParams) adminPage[T] {
	start := 0
	if p.after != "" {
		// The first item past the cursor; the cursor's own item may be
		// gone since.
		lo, hi := 0, len(sorted)
		for lo < hi {
			mid := (lo + hi) / 2
			if key(sorted[mid]) <= p.after {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		start = lo
	}
	end := min(start+p.limit, len(sorted))
	out := adminPage[T]{Items: sorted[start:end]}
	if out.Items == nil {
		out.Items = []T{}
	}
	if end < len(sorted) {
		out.Next = adminCursor(key(sorted[end-1]))
	}
	return out
}

// publishRequest is the body of POST /publish.
type publishRequest struct {
	Topic           string            `json:"topic"`
	Payload         string            `json:"payload"`
	PayloadEncoding string            `json:"payload_encoding"` // utf8 (default) or base64
	QoS             byte              `json:"qos"`
	Retain          bool              `json:"retain"`
	ContentType     string            `json:"content_type"`
	UserProperties  []userPropertyDoc `json:"user_properties"`
	// MessageExpiry is the Message Expiry Interval in seconds; 0: none.
	MessageExpiry uint32 `json:"message_expiry"`
}

// userPropertyDoc is a User Property in JSON; a list keeps order and
// duplicates [MQTT-3.3.2-17, MQTT-3.3.2-18].
type userPropertyDoc struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// publishResult is the answer of POST /publish.
type publishResult struct {
	// DeliveredTo is the number of sessions (and shared subscription
	// groups) the message went to.
	DeliveredTo int  `json:"delivered_to"`
	Retained    bool `json:"retained"`
}

// decodeAdminBody decodes the JSON body into v, bounded by adminMaxBody and
// refusing unknown fields. It writes the error answer and reports false
// on failure.
func decodeAdminBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, adminMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "body exceeds %d bytes", tooLarge.Limit)
		} else {
			writeAdminError(w, http.StatusBadRequest, "decoding body: %v", err)
		}
		return false
	}
	return true
}

// adminPublish routes a message like a client's PUBLISH, from client id
// "$admin": the topic name is validated [MQTT-4.7.3-1..3, MQTT-3.3.2-2]
// and a retained message is stored [MQTT-3.3.1-5].
func (s *Server) adminPublish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	pub, err := s.adminMessage(&req)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	var buf []broker.Match
	delivered := s.eng.broker.Route(broker.NewMessage(pub, adminClientID, time.Now()), &buf)
	s.log.Info("admin publish", logsafe.String("topic", pub.Topic), zap.Uint8("qos", pub.QoS), zap.Bool("retain", pub.Retain), zap.Int("delivered_to", delivered))
	writeAdminJSON(w, http.StatusOK, publishResult{DeliveredTo: delivered, Retained: pub.Retain})
}

// adminMessage checks a publish request and makes its PUBLISH.
func (s *Server) adminMessage(req *publishRequest) (*mqtt.Publish, error) {
	if err := mqtt.ValidTopicName(req.Topic); err != nil {
		return nil, fmt.Errorf("topic: %w", err)
	}
	if isSysTopic(req.Topic) {
		return nil, fmt.Errorf("topic %q: $SYS topics are the server's own", req.Topic)
	}
	if req.QoS > 2 {
		return nil, fmt.Errorf("qos %d is not 0, 1 or 2", req.QoS)
	}
	if req.Retain && !s.config().MQTT.RetainAvailable {
		return nil, errors.New("retain is not available (mqtt.retain_available)")
	}
	var payload []byte
	switch req.PayloadEncoding {
	case "", "utf8":
		payload = []byte(req.Payload)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(req.Payload)
		if err != nil {
			return nil, fmt.Errorf("decoding base64 payload: %w", err)
		}
		payload = b
	default:
		return nil, fmt.Errorf("payload_encoding %q is not utf8 or base64", req.PayloadEncoding)
	}
	pub := &mqtt.Publish{Topic: req.Topic, Payload: payload, QoS: req.QoS, Retain: req.Retain}
	if req.ContentType != "" {
		if err := mqtt.ValidUTF8(req.ContentType); err != nil {
			return nil, fmt.Errorf("content_type: %w", err)
		}
		pub.Properties.SetString(mqtt.PropContentType, req.ContentType)
	}
	if req.MessageExpiry > 0 {
		pub.Properties.SetUint32(mqtt.PropMessageExpiryInterval, req.MessageExpiry)
	}
	for _, u := range req.UserProperties {
		if mqtt.ValidUTF8(u.Key) != nil || mqtt.ValidUTF8(u.Value) != nil {
			return nil, fmt.Errorf("user property %q is not valid UTF-8 [MQTT-1.5.4-1]", u.Key)
		}
		pub.Properties.UserProperties = append(pub.Properties.UserProperties, mqtt.UserProperty{Key: u.Key, Value: u.Value})
	}
	return pub, nil
}

// adminReload reloads the configuration: 200 with the result, 422 with
// the reason when the new configuration is refused.
func (s *Server) adminReload(w http.ResponseWriter, r *http.Request) {
	s.log.Info("admin reload requested") // ReloadConfig logs the outcome
	res, err := s.ReloadConfig(r.Context())
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeAdminError(w, http.StatusServiceUnavailable, "reloading: %v", err)
	case err != nil:
		writeAdminError(w, http.StatusUnprocessableEntity, "%v", err)
	default:
		writeAdminJSON(w, http.StatusOK, res)
	}
}

// drainResult is the answer of POST /drain.
type drainResult struct {
	Draining bool `json:"draining"`
	// Period is drain.period: how long the disconnects are spread over.
	Period string `json:"period"`
}

// adminDrain starts the graceful drain and answers at once (202): the
// server stops accepting and disconnects its clients over drain.period,
// then Run returns.
func (s *Server) adminDrain(w http.ResponseWriter, r *http.Request) {
	s.log.Info("admin drain requested")
	s.RequestDrain()
	writeAdminJSON(w, http.StatusAccepted, drainResult{Draining: true, Period: s.config().Drain.Period.String()})
}
