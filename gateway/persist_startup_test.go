package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"edgemq/gateway/store"
	"edgemq/gateway/store/bolt"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// TestStoreStartupTime reports how long startup takes with a large store:
//
//	EDGEMQ_STARTUP_SESSIONS=100000 EDGEMQ_STARTUP_RETAINED=1000000 \
//	  go test -run StoreStartupTime -v ./gateway/
//
// Without the variables it runs small (1000 sessions, 10000 retained).
func TestStoreStartupTime(t *testing.T) {
	nSess, nRet := 1000, 10000
	if v, err := strconv.Atoi(os.Getenv("EDGEMQ_STARTUP_SESSIONS")); err == nil {
		nSess = v
	}
	if v, err := strconv.Atoi(os.Getenv("EDGEMQ_STARTUP_RETAINED")); err == nil {
		nRet = v
	}
	cfg := testConfig(t)
	cfg.Retained.MaxMessages = 0
	cfg.Retained.MaxBytes = 0
	db, err := bolt.Open(filepath.Join(cfg.DataDir, StoreFile), 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	const batch = 20000
	var ops []store.Op
	flush := func() {
		done := make(chan error, 1)
		db.Apply(ops, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ops = nil
	}
	for i := range nSess {
		ops = append(ops, store.Op{Kind: store.PutSession, Session: &store.Session{ClientID: fmt.Sprintf("client-%07d", i), Expiry: 86400,
			Deadline: time.Now().Add(time.Hour), Subs: []store.Subscription{{Filter: fmt.Sprintf("devices/%07d/cmd/#", i), QoS: 1}}}})
		if len(ops) == batch {
			flush()
		}
	}
	payload := make([]byte, 64)
	for i := range nRet {
		// The stored form of a retained message (broker/persist.go).
		pub := &mqtt.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: fmt.Sprintf("devices/%07d/state/%d", i/10, i%10), Payload: payload}
		enc, err := mqtt.AppendPublish(nil, pub, mqtt.V5)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, store.Op{Kind: store.PutRetained, Topic: pub.Topic, Retained: &store.Message{Packet: enc}})
		if len(ops) == batch {
			flush()
		}
	}
	flush()
	db.Close()
	fi, _ := os.Stat(filepath.Join(cfg.DataDir, StoreFile))
	t.Logf("wrote %d sessions and %d retained messages in %v (%d MB)", nSess, nRet, time.Since(t0).Round(time.Millisecond), fi.Size()>>20)
	t0 = time.Now()
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	defer srv.closeSources()
	if n := srv.Stats().Sessions; n != nSess {
		t.Errorf("%d sessions restored, want %d", n, nSess)
	}
	if n, _ := srv.eng.Broker().RetainedSize(); n != nRet {
		t.Errorf("%d retained restored, want %d", n, nRet)
	}
	t.Logf("startup with %d sessions and %d retained messages: %v", nSess, nRet, took.Round(time.Millisecond))
}
