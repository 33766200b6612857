package backend

import (
	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// errUnavailable refuses a CONNECT while the node does not serve: CONNACK
// 0x88 Server unavailable (v5) or return code 3 (3.x)
// [MQTT-3.2.2-6: the server closes the connection after a CONNACK with
// a non-zero code].
var errNotServing = mqtt.Errorf(mqtt.ServerUnavailable, "", "this node has lost its link to the cluster; try another node")

// servingSessions refuses new sessions while the node does not serve.
type servingSessions struct {
	broker.Sessions
	h *Health
}

// GuardSessions returns next, refusing Open with reason code 0x88 Server
// unavailable while h says the node does not serve: a session opened
// then could not be claimed in the cluster.
func GuardSessions(next broker.Sessions, h *Health) broker.Sessions {
	return servingSessions{Sessions: next, h: h}
}

// Open implements broker.Sessions.
func (s servingSessions) Open(req broker.OpenRequest, attach func(*broker.Session, bool)) (*broker.Session, broker.Client, error) {
	if !s.h.Serving() {
		return nil, nil, errNotServing
	}
	return s.Sessions.Open(req, attach)
}

// servingPublisher withholds acknowledgements while the node does not
// serve.
type servingPublisher struct {
	broker.Publisher
	h *Health
}

// GuardPublisher returns next, whose completions (AfterCommit) fail with
// ErrNotServing when the node does not serve, when asked or when they
// complete: a QoS 1 or 2 PUBLISH is then not acknowledged, and its
// connection is closed so that the client sends it again elsewhere. It
// always waits (Durable): in a cluster an acknowledgement needs the
// cluster.
func GuardPublisher(next broker.Publisher, h *Health) broker.Publisher {
	return servingPublisher{Publisher: next, h: h}
}

// Durable implements broker.Publisher.
func (p servingPublisher) Durable() bool { return true }

// AfterCommit implements broker.Publisher.
func (p servingPublisher) AfterCommit(client string, done func(error)) bool {
	if !p.h.Serving() {
		done(ErrNotServing)
		return true
	}
	guarded := func(err error) {
		if err == nil && !p.h.Serving() {
			err = ErrNotServing
		}
		done(err)
	}
	if !p.Publisher.Durable() || !p.Publisher.AfterCommit(client, guarded) {
		guarded(nil)
	}
	return true
}
