package broker

import (
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// testClient is a Client that accepts everything: a connection with a
// window of window, room for room deliveries, and no store wait.
type testClient struct {
	window int
	room   int
}

func (c *testClient) Link() Link                          { return Link{Out: c, Window: c.window} }
func (c *testClient) Deliver(*Delivery) bool              { return true }
func (c *testClient) Pubrel(uint16, mqtt.ReasonCode) bool { return true }
func (c *testClient) Room() QueueRoom                     { return QueueRoom{Items: c.room} }
func (c *testClient) SetRefill(func())                    {}
func (c *testClient) AfterStoredOut(fn func())            { fn() }
func (c *testClient) OutWaiting() bool                    { return false }
func (c *testClient) Kick(mqtt.ReasonCode)                {}

// allowReads is a ReadChecker that allows every read.
type allowReads struct{}

func (allowReads) MayRead(*Policy, *Owner, string, byte) bool { return true }
func (allowReads) RestoredView(string, *store.Owner) any      { return nil }

// testBroker returns a broker in memory mode with no bounds.
func testBroker() *Broker {
	return New(Config{MaxPending: 1000}, &stats.Counters{}, allowReads{}, zap.NewNop())
}
