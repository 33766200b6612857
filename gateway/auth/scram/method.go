package scram

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"edgemq/gateway/auth"
	"edgemq/mqtt"

	xscram "github.com/xdg-go/scram"
)

// Method is one SCRAM mechanism over a store: an auth.Method. It is
// safe for concurrent use.
type Method struct {
	name   string
	hash   xscram.HashGeneratorFcn
	store  Store
	server *xscram.Server
	// mock derives fake credentials for unknown users, so that an unknown
	// user is told apart from a wrong password only at the end, as 0x86
	// both (RFC 5802 section 5.1, "i": a server may mock).
	mockKey []byte
}

// NewMethod returns the method name (MethodSHA256 or MethodSHA512) over
// store.
func NewMethod(name string, store Store) (*Method, error) {
	h, ok := scramHash(name)
	if !ok {
		return nil, fmt.Errorf("unknown SCRAM method %q", name)
	}
	m := &Method{name: name, hash: xscram.HashGeneratorFcn(h), store: store, mockKey: make([]byte, 32)}
	rand.Read(m.mockKey)
	var err error
	m.server, err = m.hash.NewServer(m.lookup)
	return m, err
}

func (m *Method) lookup(user string) (xscram.StoredCredentials, error) {
	c, ok := m.store.Lookup(m.name, user)
	if !ok {
		mac := hmac.New(sha256.New, m.mockKey)
		mac.Write([]byte(user))
		sum := mac.Sum(nil)
		size := m.hash().Size()
		c = Credentials{Salt: sum[:16], Iterations: 4096, StoredKey: make([]byte, size), ServerKey: make([]byte, size)}
		copy(c.StoredKey, sum[16:]) // no proof hashes to it in practice
	}
	return xscram.StoredCredentials{
		KeyFactors: xscram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey:  c.StoredKey, ServerKey: c.ServerKey,
	}, nil
}

// Start begins a conversation.
func (m *Method) Start() auth.Exchange {
	return &scramExchange{conv: m.server.NewConversation()}
}

// scramExchange is one SCRAM conversation: client-first (CONNECT or AUTH
// 0x19) → server-first (AUTH 0x18) → client-final (AUTH 0x18) →
// server-final (CONNACK or AUTH 0x00).
type scramExchange struct {
	conv *xscram.ServerConversation
}

// Step implements auth.Exchange.
func (x *scramExchange) Step(data []byte) ([]byte, bool, error) {
	out, err := x.conv.Step(string(data))
	if err != nil {
		return nil, true, mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "SCRAM: %v", err)
	}
	if x.conv.Done() {
		if !x.conv.Valid() {
			return nil, true, mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "SCRAM: authentication failed")
		}
		return []byte(out), true, nil
	}
	return []byte(out), false, nil
}

// Username implements auth.Exchange.
func (x *scramExchange) Username() string { return x.conv.Username() }
