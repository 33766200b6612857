package gateway

// $SYS topics: every sys.interval the server publishes its state as
// retained QoS 0 messages under $SYS/broker/, through the normal route
// and from client id "$SYS", so that subscribers to "$SYS/#" get them and
// subscribers to "#" do not [MQTT-4.7.2-1]. Payloads are decimal text:
//
//	$SYS/broker/version              the server's version (Server.SetVersion)
//	$SYS/broker/uptime               seconds since Run started
//	$SYS/broker/clients/connected    connected clients
//	$SYS/broker/messages/received    messages routed: client PUBLISH and wills
//	$SYS/broker/messages/sent        messages delivered to sessions
//	$SYS/broker/bytes/received       PUBLISH payload bytes received
//	$SYS/broker/bytes/sent           PUBLISH payload bytes sent
//	$SYS/broker/subscriptions/count  subscriptions of all sessions
//	$SYS/broker/retained/count       retained messages
//	$SYS/broker/sessions/count       sessions, connected or not
//
// Clients may not publish under $SYS: such a PUBLISH is refused as not
// authorized (acl.go, isSysTopic), whatever the authorizer says.

import (
	"cmp"
	"context"
	"strconv"
	"time"

	"edgemq/mqtt"
)

// sysClientID is the publisher of the $SYS messages, for No Local.
const sysClientID = "$SYS"

// sysState is the $SYS publisher's configuration beyond sys.interval.
type sysState struct {
	version string
}

// SetVersion sets the version published on $SYS/broker/version; "dev"
// when never set. Call it before Run.
func (s *Server) SetVersion(v string) {
	s.sys.version = v
}

// startSys starts the $SYS publisher unless sys.interval is 0. stop
// ends it and waits until it has.
func (s *Server) startSys(ctx context.Context) (stop func()) {
	interval := s.config().Sys.Interval
	if interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	version := cmp.Or(s.sys.version, "dev")
	started := time.Now()
	go func() {
		defer close(done)
		s.eng.runSys(ctx, interval, version, started)
	}()
	return func() {
		cancel()
		<-done
	}
}

// runSys publishes the $SYS messages at once and then every interval
// until ctx is done.
func (e *engine) runSys(ctx context.Context, interval time.Duration, version string, started time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var buf []match
	for {
		e.publishSys(version, started, time.Now(), &buf)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// The $SYS topics, in publishing order.
const (
	sysVersion       = "$SYS/broker/version"
	sysUptime        = "$SYS/broker/uptime"
	sysClients       = "$SYS/broker/clients/connected"
	sysMsgsReceived  = "$SYS/broker/messages/received"
	sysMsgsSent      = "$SYS/broker/messages/sent"
	sysBytesReceived = "$SYS/broker/bytes/received"
	sysBytesSent     = "$SYS/broker/bytes/sent"
	sysSubscriptions = "$SYS/broker/subscriptions/count"
	sysRetained      = "$SYS/broker/retained/count"
	sysSessions      = "$SYS/broker/sessions/count"
)

// publishSys publishes one round of $SYS messages. The values are read
// first, so they do not count this round. The round's own messages are
// not counted in messages/received (edgemq_messages_received_total),
// which counts what clients publish: they are marked sys, and route skips
// the count for them, so the counter never goes down.
func (e *engine) publishSys(version string, started, now time.Time, buf *[]match) {
	st := e.stats
	retained, _ := e.retained.size()
	counters := [...]struct {
		topic string
		v     int64
	}{
		{sysUptime, int64(now.Sub(started) / time.Second)},
		{sysClients, st.Connections.Load()},
		{sysMsgsReceived, st.MsgsIn.Load()},
		{sysMsgsSent, st.MsgsOut.Load()},
		{sysBytesReceived, st.BytesIn.Load()},
		{sysBytesSent, st.BytesOut.Load()},
		{sysSubscriptions, int64(e.sessions.subscriptionCount())},
		{sysRetained, int64(retained)},
		{sysSessions, int64(e.sessions.count())},
	}
	e.publishSysValue(sysVersion, []byte(version), now, buf)
	for _, c := range counters {
		e.publishSysValue(c.topic, strconv.AppendInt(nil, c.v, 10), now, buf)
	}
}

func (e *engine) publishSysValue(topic string, payload []byte, now time.Time, buf *[]match) {
	pub := &mqtt.Publish{Topic: topic, Payload: payload, Retain: true}
	m := newMessage(pub, sysClientID, now)
	m.sys = true
	e.route(m, buf)
}
