package auth

import (
	"context"
	"testing"

	"edgemq/mqtt"
)

// BenchmarkChainAuthenticate is the CONNECT's authentication step
// without a password hash: the view, then a chain whose backend leaves
// the client to the anonymous rule.
func BenchmarkChainAuthenticate(b *testing.B) {
	chain := NewChain(true, Backend{Authenticator: notMine{}, Kind: KindPlugin})
	c := &mqtt.Connect{Version: mqtt.V5, ClientID: "bench"}
	meta := viewOf(c).meta
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v := NewView(meta, c, "bench", "", false)
		if _, err := chain.Authenticate(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
}

// notMine leaves every client to the next backend.
type notMine struct{}

func (notMine) Authenticate(context.Context, ConnInfo) error { return ErrNotMine }
