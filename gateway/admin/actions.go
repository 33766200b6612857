package admin

// Actions: POST /api/v1/publish, /api/v1/reload and /api/v1/drain.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"edgemq/gateway/acl"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// ClientID is the publisher of POST /publish messages, for No Local.
const ClientID = "$admin"

// PublishRequest is the body of POST /publish.
type PublishRequest struct {
	Topic           string         `json:"topic"`
	Payload         string         `json:"payload"`
	PayloadEncoding string         `json:"payload_encoding"` // utf8 (default) or base64
	QoS             byte           `json:"qos"`
	Retain          bool           `json:"retain"`
	ContentType     string         `json:"content_type"`
	UserProperties  []UserProperty `json:"user_properties"`
	// MessageExpiry is the Message Expiry Interval in seconds; 0: none.
	MessageExpiry uint32 `json:"message_expiry"`
}

// PublishResult is the answer of POST /publish.
type PublishResult struct {
	// DeliveredTo is the number of sessions (and shared subscription
	// groups) the message went to on this node; on a cluster node with
	// none here, 1 when another node has a subscriber for it.
	DeliveredTo int  `json:"delivered_to"`
	Retained    bool `json:"retained"`
	// Stored says the message is as durable as a client's PUBLISH of
	// its QoS when acknowledged: a QoS 1 or 2 or retained message
	// handed to the store as store.durability acknowledges or, in a
	// cluster, stored in the cluster's streams. False for a QoS 0
	// message that is not retained, and in memory mode.
	Stored bool `json:"stored"`
}

// publishWait bounds how long POST /publish waits for the message to be
// stored (a cluster's stream answers or fails within 5 s).
const publishWait = 10 * time.Second

// publish routes a message like a client's PUBLISH, from client id
// "$admin", through the same publish path (Publisher.Publish): the topic
// name is validated [MQTT-4.7.3-1..3, MQTT-3.3.2-2], a retained message
// is stored [MQTT-3.3.1-5], and the answer comes once the message is
// stored as a client's acknowledgement would wait for
// [MQTT-4.3.2-2, MQTT-4.3.3-8]: 200 with stored, or 503 when it is not
// (e.g. a cluster node cut from NATS), the message routed nonetheless.
// The admin is not subject to the ACL, as the token holder; subscribers
// still get the message only as the ACL lets them read it.
func (a *Server) publish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if !decodeBody(w, r, &req) {
		return
	}
	pub, err := a.message(&req)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	topic, qos, retain := pub.Topic, pub.QoS, pub.Retain // pub is the callee's
	ctx, cancel := context.WithTimeout(r.Context(), publishWait)
	defer cancel()
	delivered, stored, err := a.b.Publisher.Publish(ctx, ClientID, pub)
	if err != nil {
		a.log.Warn("admin publish not stored", logsafe.String("topic", topic), zap.Uint8("qos", qos), zap.Bool("retain", retain), zap.Int("delivered_to", delivered), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "publishing to %q: routed to %d here, but not stored: %v", topic, delivered, err)
		return
	}
	a.log.Info("admin publish", logsafe.String("topic", topic), zap.Uint8("qos", qos), zap.Bool("retain", retain), zap.Int("delivered_to", delivered), zap.Bool("stored", stored))
	writeJSON(w, http.StatusOK, PublishResult{DeliveredTo: delivered, Retained: retain, Stored: stored})
}

// message checks a publish request and makes its PUBLISH.
func (a *Server) message(req *PublishRequest) (*mqtt.Publish, error) {
	if err := mqtt.ValidTopicName(req.Topic); err != nil {
		return nil, fmt.Errorf("topic: %w", err)
	}
	if acl.IsSysTopic(req.Topic) {
		return nil, fmt.Errorf("topic %q: $SYS topics are the server's own", req.Topic)
	}
	if req.QoS > 2 {
		return nil, fmt.Errorf("qos %d is not 0, 1 or 2", req.QoS)
	}
	if req.Retain && !a.b.Control.Config().MQTT.RetainAvailable {
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

// reload reloads the configuration: 200 with the result, 422 with the
// reason when the new configuration is refused.
func (a *Server) reload(w http.ResponseWriter, r *http.Request) {
	a.log.Info("admin reload requested") // Reload logs the outcome
	res, err := a.b.Control.Reload(r.Context())
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "reloading: %v", err)
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, "%v", err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// DrainResult is the answer of POST /drain.
type DrainResult struct {
	Draining bool `json:"draining"`
	// Period is drain.period: how long the disconnects are spread over.
	Period string `json:"period"`
}

// drain starts the graceful drain and answers at once (202): the server
// stops accepting and disconnects its clients over drain.period.
func (a *Server) drain(w http.ResponseWriter, r *http.Request) {
	a.log.Info("admin drain requested")
	a.b.Control.Drain()
	writeJSON(w, http.StatusAccepted, DrainResult{Draining: true, Period: a.b.Control.Config().Drain.Period.String()})
}
