package broker

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
// authorized (the acl side, isSysTopic), whatever the authorizer says.

import (
	"context"
	"strconv"
	"time"

	"edgemq/mqtt"
)

// sysClientID is the publisher of the $SYS messages, for No Local.
const sysClientID = "$SYS"

// RunSys publishes the $SYS messages at once and then every interval
// until ctx is done.
func (e *Broker) RunSys(ctx context.Context, interval time.Duration, version string, started time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var buf []Match
	for {
		e.PublishSys(version, started, time.Now(), &buf)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// The $SYS topics, in publishing order.
const (
	SysVersion       = "$SYS/broker/version"
	SysUptime        = "$SYS/broker/uptime"
	SysClients       = "$SYS/broker/clients/connected"
	SysMsgsReceived  = "$SYS/broker/messages/received"
	SysMsgsSent      = "$SYS/broker/messages/sent"
	SysBytesReceived = "$SYS/broker/bytes/received"
	SysBytesSent     = "$SYS/broker/bytes/sent"
	SysSubscriptions = "$SYS/broker/subscriptions/count"
	SysRetained      = "$SYS/broker/retained/count"
	SysSessions      = "$SYS/broker/sessions/count"
)

// PublishSys publishes one round of $SYS messages. The values are read
// first, so they do not count this round. The round's own messages are
// not counted in messages/received (edgemq_messages_received_total),
// which counts what clients publish: they are marked sys, and route skips
// the count for them, so the counter never goes down.
func (e *Broker) PublishSys(version string, started, now time.Time, buf *[]Match) {
	st := e.stats
	retained, _ := e.retained.size()
	counters := [...]struct {
		topic string
		v     int64
	}{
		{SysUptime, int64(now.Sub(started) / time.Second)},
		{SysClients, st.Connections.Load()},
		{SysMsgsReceived, st.MsgsIn.Load()},
		{SysMsgsSent, st.MsgsOut.Load()},
		{SysBytesReceived, st.BytesIn.Load()},
		{SysBytesSent, st.BytesOut.Load()},
		{SysSubscriptions, int64(e.sessions.subscriptionCount())},
		{SysRetained, int64(retained)},
		{SysSessions, int64(e.sessions.count())},
	}
	e.publishSysValue(SysVersion, []byte(version), now, buf)
	for _, c := range counters {
		e.publishSysValue(c.topic, strconv.AppendInt(nil, c.v, 10), now, buf)
	}
}

func (e *Broker) publishSysValue(topic string, payload []byte, now time.Time, buf *[]Match) {
	pub := &mqtt.Publish{Topic: topic, Payload: payload, Retain: true}
	m := NewMessage(pub, sysClientID, now)
	m.sys = true
	e.Route(m, buf)
}
