package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/admin"
	"edgemq/mqtt"
)

// TestAdminSourceContract checks the contract of the adapter the admin
// API works over, against real sessions and connections: Sessions yields
// in client id order after the cursor and copies no more once stopped;
// Clients and Kick see only connected clients; DeleteSession reports not
// found and kicks a connected client first; Session finds one session.
func TestAdminSourceContract(t *testing.T) {
	ts := startServer(t, testConfig(t))
	src := adminSource{ts.Server}
	for i := range 4 {
		c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, fmt.Sprintf("src-%d", i), true, 600))
		c.send(t, &mqtt.Disconnect{})
		c.expectClosed(t)
	}
	online, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "src-online", true, 600))
	waitConnections(t, ts, 1)

	var ids []string
	for s := range src.Sessions("src-", "src-1") {
		ids = append(ids, s.ClientID)
	}
	if want := []string{"src-2", "src-3", "src-online"}; !slices.Equal(ids, want) {
		t.Errorf("Sessions(src-, src-1) = %v, want %v", ids, want)
	}
	ids = ids[:0]
	for s := range src.Sessions("src-", "") {
		ids = append(ids, s.ClientID)
		if len(ids) == 2 {
			break
		}
	}
	if want := []string{"src-0", "src-1"}; !slices.Equal(ids, want) {
		t.Errorf("Sessions stopped after two = %v, want %v", ids, want)
	}

	if s, ok := src.Session("src-0"); !ok || s.ClientID != "src-0" || s.Connected || s.Expiry != 600 {
		t.Errorf("Session(src-0) = %+v, %v; want the offline session", s, ok)
	}
	if _, ok := src.Session("nobody"); ok {
		t.Error("Session(nobody) found one")
	}

	clients := src.Clients()
	if len(clients) != 1 || clients[0].ClientID != "src-online" || clients[0].Version != mqtt.V5 {
		t.Fatalf("Clients = %+v, want src-online alone", clients)
	}
	if _, ok := src.Client("src-0"); ok {
		t.Error("Client(src-0): an offline session is not a connected client")
	}
	if _, ok := src.Kick("src-0", mqtt.AdministrativeAction); ok {
		t.Error("Kick(src-0) found an offline session")
	}
	if _, err := src.DeleteSession(context.Background(), "nobody"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("DeleteSession(nobody) = %v, want ErrNotFound", err)
	}
	// The client reads the server's DISCONNECT and closes, as a client
	// does, while DeleteSession waits for the session's release.
	type read struct {
		p   mqtt.Packet
		err error
	}
	got := make(chan read, 1)
	go func() {
		online.nc.SetReadDeadline(time.Now().Add(eventTimeout))
		p, err := online.rd.ReadPacket(online.v)
		online.nc.Close()
		got <- read{p, err}
	}()
	kicked, err := src.DeleteSession(context.Background(), "src-online")
	if err != nil || !kicked {
		t.Errorf("DeleteSession(src-online) = %v, %v; want kicked", kicked, err)
	}
	r := <-got
	// [MQTT-3.14.2-1] the server's DISCONNECT carries 0x98.
	if d, ok := r.p.(*mqtt.Disconnect); !ok || d.ReasonCode != mqtt.AdministrativeAction {
		t.Errorf("read %v (%v), want DISCONNECT 0x98", r.p, r.err)
	}
	for s := range src.Sessions("src-online", "") {
		t.Errorf("session %s still there after DeleteSession", s.ClientID)
	}
}
