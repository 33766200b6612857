package gateway

// Admin API: sessions (GET /api/v1/sessions, DELETE
// /api/v1/sessions/{id}) and retained messages (GET /api/v1/retained,
// DELETE /api/v1/retained/{topic...}).

import (
	"cmp"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// sessionItem is a session in GET /api/v1/sessions.
type sessionItem struct {
	ClientID  string `json:"client_id"`
	Connected bool   `json:"connected"`
	// Expiry is the Session Expiry Interval in force, in seconds
	// (4294967295: never). An offline session ends that long after its
	// connection ended.
	Expiry        uint32 `json:"expiry"`
	Subscriptions int    `json:"subscriptions"`
	Inflight      int    `json:"inflight"`
	Queued        int    `json:"queued"`
	// Owner is the identity the session is bound to ("user:<name>",
	// "cert:<identity>", "anonymous:<listener>"); "" for a session
	// restored from a record without one (owner.go).
	Owner string `json:"owner"`
}

// adminListSessions lists sessions, connected or not, by client id,
// paged, filtered by client_id (a prefix) and connected (true/false).
func (s *Server) adminListSessions(w http.ResponseWriter, r *http.Request) {
	pp, err := parseAdminPage(r)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	var connected *bool
	if v := q.Get("connected"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "connected %q is not true or false", v)
			return
		}
		connected = &b
	}
	prefix := q.Get("client_id")
	var items []sessionItem
	for _, ss := range s.eng.broker.Sessions() {
		if !strings.HasPrefix(ss.ClientID(), prefix) || ss.ClientID() <= pp.after && pp.after != "" {
			continue
		}
		v := ss.View()
		if connected != nil && v.Connected != *connected {
			continue
		}
		items = append(items, sessionItem{
			ClientID: ss.ClientID(), Connected: v.Connected, Expiry: v.Expiry,
			Subscriptions: len(v.Subs), Inflight: v.Inflight, Queued: v.Queued,
			Owner: ss.OwnerIdentity(),
		})
		if len(items) > pp.limit {
			break // one more than the page tells whether a next one exists
		}
	}
	pp.after = "" // applied above
	writeAdminJSON(w, http.StatusOK, paginateAdmin(items, func(it sessionItem) string { return it.ClientID }, pp))
}

// sessionDeleteResult is the answer of DELETE /api/v1/sessions/{id}.
type sessionDeleteResult struct {
	ClientID string `json:"client_id"`
	// Kicked says a connected client was disconnected first.
	Kicked bool `json:"kicked"`
}

// detachWait bounds how long DELETE /api/v1/sessions/{id} waits for a
// kicked client's connection to release the session.
const detachWait = closeGrace + time.Second

// adminDeleteSession discards a session: a connected client is kicked
// first (DISCONNECT 0x98 Administrative action for v5, a close for 3.x),
// then the session ends. The will goes as the specification has it when
// a session ends: a will without delay when the connection closes, a
// delayed one when the session is discarded [MQTT-3.1.3-9]. 409 when the
// client reconnected meanwhile.
func (s *Server) adminDeleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ss := s.eng.broker.Lookup(id)
	kicked := false
	for _, ac := range s.connectedClients() {
		if ac.neg().ClientID == id {
			ac.c.ch.kick(mqtt.AdministrativeAction)
			kicked = true
		}
	}
	if ss == nil && !kicked {
		writeAdminError(w, http.StatusNotFound, "no session for client %q", id)
		return
	}
	if ss != nil && kicked {
		ctx, cancel := context.WithTimeout(r.Context(), detachWait)
		defer cancel()
		if !ss.AwaitDetached(ctx) {
			writeAdminError(w, http.StatusConflict, "client %q still holds its session; retry", id)
			return
		}
	}
	if _, busy := s.eng.broker.Discard(id); busy {
		writeAdminError(w, http.StatusConflict, "client %q reconnected; kick it or retry", id)
		return
	}
	s.log.Info("admin session discarded", logsafe.String("client_id", id), zap.Bool("kicked", kicked))
	writeAdminJSON(w, http.StatusOK, sessionDeleteResult{ClientID: id, Kicked: kicked})
}

// retainedItem is a retained message in GET /api/v1/retained.
type retainedItem struct {
	Topic       string `json:"topic"`
	QoS         byte   `json:"qos"`
	PayloadSize int    `json:"payload_size"`
	// Payload is base64, only with ?payload=true.
	Payload    string        `json:"payload,omitempty"`
	Properties retainedProps `json:"properties"`
}

// retainedProps summarizes a retained message's properties.
type retainedProps struct {
	PayloadFormatIndicator *byte  `json:"payload_format_indicator,omitempty"`
	ContentType            string `json:"content_type,omitempty"`
	ResponseTopic          string `json:"response_topic,omitempty"`
	CorrelationDataSize    int    `json:"correlation_data_size,omitempty"`
	// MessageExpiry is the seconds left of the Message Expiry Interval.
	MessageExpiry  *uint32           `json:"message_expiry,omitempty"`
	UserProperties []userPropertyDoc `json:"user_properties,omitempty"`
}

func retainedItemOf(m *broker.Message, withPayload bool, now time.Time) retainedItem {
	pub := m.Publish()
	p := &pub.Properties
	it := retainedItem{Topic: pub.Topic, QoS: pub.QoS, PayloadSize: len(pub.Payload)}
	if withPayload {
		it.Payload = base64.StdEncoding.EncodeToString(pub.Payload)
	}
	if p.Has(mqtt.PropPayloadFormatIndicator) {
		it.Properties.PayloadFormatIndicator = &p.PayloadFormatIndicator
	}
	if p.Has(mqtt.PropContentType) {
		it.Properties.ContentType = p.ContentType
	}
	if p.Has(mqtt.PropResponseTopic) {
		it.Properties.ResponseTopic = p.ResponseTopic
	}
	it.Properties.CorrelationDataSize = len(p.CorrelationData)
	if exp := m.Expires(); !exp.IsZero() {
		left := uint32(max(exp.Sub(now), 0) / time.Second)
		it.Properties.MessageExpiry = &left
	}
	for _, u := range p.UserProperties {
		it.Properties.UserProperties = append(it.Properties.UserProperties, userPropertyDoc{u.Key, u.Value})
	}
	return it
}

// adminListRetained lists the retained messages matching filter (default
// "#", which does not match $ topics [MQTT-4.7.2-1]), by topic, paged;
// payloads only with payload=true.
func (s *Server) adminListRetained(w http.ResponseWriter, r *http.Request) {
	pp, err := parseAdminPage(r)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	filter := cmp.Or(q.Get("filter"), "#")
	if err := mqtt.ValidTopicFilter(filter); err != nil || strings.HasPrefix(filter, mqtt.SharePrefix) {
		writeAdminError(w, http.StatusBadRequest, "filter %q is not a topic filter", filter)
		return
	}
	withPayload := false
	if v := q.Get("payload"); v != "" {
		if withPayload, err = strconv.ParseBool(v); err != nil {
			writeAdminError(w, http.StatusBadRequest, "payload %q is not true or false", v)
			return
		}
	}
	now := time.Now()
	msgs := s.eng.broker.RetainedMatch(filter, now)
	slices.SortFunc(msgs, func(a, b *broker.Message) int { return cmp.Compare(a.Publish().Topic, b.Publish().Topic) })
	pg := paginateAdmin(msgs, func(m *broker.Message) string { return m.Publish().Topic }, pp)
	out := adminPage[retainedItem]{Items: make([]retainedItem, len(pg.Items)), Next: pg.Next}
	for i, m := range pg.Items {
		out.Items[i] = retainedItemOf(m, withPayload, now)
	}
	writeAdminJSON(w, http.StatusOK, out)
}

// adminDeleteRetained deletes one topic's retained message (the topic is
// the rest of the path; an empty level is written %2F).
func (s *Server) adminDeleteRetained(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	if err := mqtt.ValidTopicName(topic); err != nil {
		writeAdminError(w, http.StatusBadRequest, "topic: %v", err)
		return
	}
	if !s.eng.broker.RemoveRetained(topic) {
		writeAdminError(w, http.StatusNotFound, "no retained message on %q", topic)
		return
	}
	s.log.Info("admin retained deleted", logsafe.String("topic", topic))
	writeAdminJSON(w, http.StatusOK, map[string]string{"topic": topic})
}
