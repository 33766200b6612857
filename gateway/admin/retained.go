package admin

// Retained messages: GET /api/v1/retained, DELETE
// /api/v1/retained/{topic...}.

import (
	"cmp"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// RetainedItem is a retained message in GET /api/v1/retained.
type RetainedItem struct {
	Topic       string `json:"topic"`
	QoS         byte   `json:"qos"`
	PayloadSize int    `json:"payload_size"`
	// Payload is base64, only with ?payload=true.
	Payload    string        `json:"payload,omitempty"`
	Properties RetainedProps `json:"properties"`
}

// RetainedProps summarizes a retained message's properties.
type RetainedProps struct {
	PayloadFormatIndicator *byte  `json:"payload_format_indicator,omitempty"`
	ContentType            string `json:"content_type,omitempty"`
	ResponseTopic          string `json:"response_topic,omitempty"`
	CorrelationDataSize    int    `json:"correlation_data_size,omitempty"`
	// MessageExpiry is the seconds left of the Message Expiry Interval.
	MessageExpiry  *uint32        `json:"message_expiry,omitempty"`
	UserProperties []UserProperty `json:"user_properties,omitempty"`
}

// UserProperty is a User Property in JSON; a list keeps order and
// duplicates [MQTT-3.3.2-17, MQTT-3.3.2-18].
type UserProperty struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func retainedItemOf(m RetainedMessage, withPayload bool, now time.Time) RetainedItem {
	pub := m.Publish
	p := &pub.Properties
	it := RetainedItem{Topic: pub.Topic, QoS: pub.QoS, PayloadSize: len(pub.Payload)}
	if withPayload {
		it.Payload = base64.StdEncoding.EncodeToString(pub.Payload)
	}
	if p.Has(mqtt.PropPayloadFormatIndicator) {
		pfi := p.PayloadFormatIndicator
		it.Properties.PayloadFormatIndicator = &pfi
	}
	if p.Has(mqtt.PropContentType) {
		it.Properties.ContentType = p.ContentType
	}
	if p.Has(mqtt.PropResponseTopic) {
		it.Properties.ResponseTopic = p.ResponseTopic
	}
	it.Properties.CorrelationDataSize = len(p.CorrelationData)
	if !m.Expires.IsZero() {
		left := uint32(max(m.Expires.Sub(now), 0) / time.Second)
		it.Properties.MessageExpiry = &left
	}
	for _, u := range p.UserProperties {
		it.Properties.UserProperties = append(it.Properties.UserProperties, UserProperty{u.Key, u.Value})
	}
	return it
}

// listRetained lists the retained messages matching filter (default "#",
// which does not match $ topics [MQTT-4.7.2-1]), by topic, paged;
// payloads only with payload=true.
func (a *Server) listRetained(w http.ResponseWriter, r *http.Request) {
	pp, err := parsePage(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	filter := cmp.Or(q.Get("filter"), "#")
	if err := mqtt.ValidTopicFilter(filter); err != nil || strings.HasPrefix(filter, mqtt.SharePrefix) {
		writeError(w, http.StatusBadRequest, "filter %q is not a topic filter", filter)
		return
	}
	withPayload := false
	if v := q.Get("payload"); v != "" {
		if withPayload, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, "payload %q is not true or false", v)
			return
		}
	}
	now := time.Now()
	msgs := a.b.Retained.Retained(filter, now)
	slices.SortFunc(msgs, func(x, y RetainedMessage) int { return cmp.Compare(x.Publish.Topic, y.Publish.Topic) })
	pg := paginate(msgs, func(m RetainedMessage) string { return m.Publish.Topic }, pp)
	out := Page[RetainedItem]{Items: make([]RetainedItem, len(pg.Items)), Next: pg.Next}
	for i, m := range pg.Items {
		out.Items[i] = retainedItemOf(m, withPayload, now)
	}
	writeJSON(w, http.StatusOK, out)
}

// retainedDeleteTimeout bounds the wait for a cluster to store a
// deletion.
const retainedDeleteTimeout = 10 * time.Second

// deleteRetained deletes one topic's retained message (the topic is the
// rest of the path; an empty level is written %2F), on every node of a
// cluster; 503 when the cluster did not store the deletion.
func (a *Server) deleteRetained(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	if err := mqtt.ValidTopicName(topic); err != nil {
		writeError(w, http.StatusBadRequest, "topic: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), retainedDeleteTimeout)
	defer cancel()
	found, err := a.b.Retained.RemoveRetained(ctx, topic)
	if err != nil {
		a.log.Warn("admin retained delete failed", logsafe.String("topic", topic), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "no retained message on %q", topic)
		return
	}
	a.log.Info("admin retained deleted", logsafe.String("topic", topic))
	writeJSON(w, http.StatusOK, map[string]string{"topic": topic})
}
