package gateway

// The server and channel side of persistence (the broker side, what is
// stored and the restore, is broker/persist.go): opening the configured
// store, an acknowledgement that waits for the store, the group of one
// inbound PUBLISH, and the flush before a connection closes.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/store"
	"edgemq/gateway/store/bolt"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// StoreFile is the name of the embedded store in the data directory.
const StoreFile = "edgemq.db"

// afterStored runs fn once what was queued so far is stored (at once in
// memory mode). A store failure kicks the connection instead: the
// acknowledgement is never sent for what is not stored.
func (ch *channel) afterStored(fn func()) {
	pub := ch.env.pub
	if !pub.Durable() {
		fn()
		return
	}
	ch.acksOut.Add(1)
	pub.AfterCommit(func(err error) { // broker.Publisher
		defer ch.acksOut.Add(-1)
		if err != nil {
			pub.CommitFailed(err) // counted, logged
			ch.kick(mqtt.UnspecifiedError)
			return
		}
		fn()
	})
}

// openStore opens the configured store; nil in memory mode.
func openStore(cfg *configs.Config) (store.Store, error) {
	var interval time.Duration
	switch cfg.Store.Durability {
	case "", "memory":
		return nil, nil
	case "async":
		interval = cfg.Store.FlushInterval
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, StoreFile)
	db, err := bolt.Open(path, interval)
	if err != nil {
		return nil, broker.StoreError(path, err)
	}
	return db, nil
}

// storeCloser closes the store once.
type storeCloser struct {
	once sync.Once
	st   store.Store
}

func (c *storeCloser) close(log *zap.Logger) {
	c.once.Do(func() {
		if c.st != nil {
			if err := c.st.Close(); err != nil {
				log.Error("closing store failed", zap.Error(err))
			}
		}
	})
}

// openStore opens the configured store and restores it into the engine.
// The embedding program's store (WithStore) takes the place of the
// configured one.
func (s *Server) openStore(ctx context.Context) error {
	st, path := s.ext.store, ""
	if st == nil {
		var err error
		if st, err = openStore(s.config()); err != nil || st == nil {
			return err
		}
		path = filepath.Join(s.config().DataDir, StoreFile)
	}
	s.store.st = st
	return s.eng.broker.Restore(ctx, st, st, path) // broker/persist.go
}

// storeGroup makes the store changes of one inbound PUBLISH (the QoS 2
// id awaiting PUBREL and every delivery it routes) commit together: a
// crash keeps all or none of them, so the publisher's resend after a crash
// is neither lost nor routed twice. It returns the end of the group.
func (ch *channel) storeGroup() func() {
	return ch.env.pub.Begin() // broker.Publisher
}

// flushAcks waits until the acknowledgements queued behind the store are
// sent, before the connection closes (an error, or DISCONNECT). It holds
// no lock.
func (ch *channel) flushAcks() {
	if !ch.env.pub.Durable() || ch.acksOut.Load() == 0 {
		return
	}
	done := make(chan struct{})
	ch.env.pub.AfterCommit(func(error) { close(done) })
	<-done
}
