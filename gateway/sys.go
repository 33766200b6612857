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
// authorized (engine.go, isSysTopic), whatever the authorizer says.

import (
	"cmp"
	"context"
	"time"
)

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
		s.eng.Broker().RunSys(ctx, interval, version, started) // broker/sys.go
	}()
	return func() {
		cancel()
		<-done
	}
}
