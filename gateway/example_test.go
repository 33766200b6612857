package gateway_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"edgemq/configs"
	"edgemq/gateway"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
)

// deviceTokens is an Authenticator of the embedding program: a device
// connects with its name as user name and its token as password. Clients
// it does not know are not its business (ErrNotMine): the next backend of
// the listener, or its anonymous rule, decides.
type deviceTokens struct {
	tokens  map[string]string // device name → token; read-only
	blocked map[string]bool   // devices refused outright; read-only
}

// Authenticate is safe for concurrent use: it only reads its maps.
func (d deviceTokens) Authenticate(_ context.Context, c gateway.ConnInfo) error {
	if !c.HasUsername() {
		return gateway.ErrNotMine
	}
	name := c.Username()
	if d.blocked[name] {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "device %q is blocked", name)
	}
	tok, ok := d.tokens[name]
	if !ok {
		return gateway.ErrNotMine
	}
	if tok != string(c.Password()) {
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "wrong token for device %q", name)
	}
	return nil
}

// ownTopics is an Authorizer of the embedding program: a device publishes
// and subscribes under devices/<its name>/ only. It depends on its
// arguments only, as the Authorizer contract asks.
type ownTopics struct{}

func (ownTopics) Authorize(c gateway.ConnInfo, _ gateway.Action, topic string, _ byte, _ bool) bool {
	return c.HasUsername() && strings.HasPrefix(topic, "devices/"+c.Username()+"/")
}

// embeddedConfig is a configuration with one loopback tcp listener whose
// only authentication backend is the plugin "devices".
func embeddedConfig() (*configs.Config, error) {
	cfg, err := configs.Default()
	if err != nil {
		return nil, err
	}
	cfg.Listeners = []configs.Listener{{Name: "mqtt", Type: "tcp", Address: "127.0.0.1:0", Auth: []string{"devices"}}}
	cfg.Auth.Backends = map[string]configs.AuthBackend{"devices": {Type: configs.BackendPlugin}}
	cfg.Ops.Address = ""                // no metrics listener
	cfg.Auth.BruteForce.Enabled = false // answer refusals at once
	cfg.Drain.Period = 0
	return cfg, cfg.Validate()
}

// connectDevice connects a paho.golang MQTT 5 client to addr and returns
// the CONNACK; the client is nil when the server refused it.
func connectDevice(ctx context.Context, addr, clientID, user, password string, expiry uint32) (*paho.Client, *paho.Connack, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	cp := &paho.Connect{ClientID: clientID, CleanStart: expiry == 0, KeepAlive: 60}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	if expiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		return nil, ack, err
	}
	return c, ack, nil
}

// Example embeds edgemq with the program's own authentication backend,
// authorizer and store. The configuration names the backend (type plugin)
// where a listener uses it.
func Example() {
	cfg, err := embeddedConfig()
	if err != nil {
		fmt.Println("config:", err)
		return
	}
	st := newMemStore()
	srv, err := gateway.New(cfg, zap.NewNop(),
		gateway.WithAuthenticator("devices", deviceTokens{tokens: map[string]string{"pump-1": "t0k3n"}, blocked: map[string]bool{"pump-9": true}}),
		gateway.WithAuthorizer(ownTopics{}),
		gateway.WithStore(st), // the server closes it when Run returns
	)
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	defer func() { stop(); <-done }()
	addr := srv.Addr("mqtt").String()

	for _, try := range []struct{ user, password string }{{"pump-1", "wrong"}, {"pump-9", "t0k3n"}} {
		_, ack, _ := connectDevice(ctx, addr, try.user, try.user, try.password, 0)
		fmt.Printf("CONNACK to %s with %q: %#02x\n", try.user, try.password, ack.ReasonCode)
	}
	c, ack, err := connectDevice(ctx, addr, "pump-1", "pump-1", "t0k3n", 3600)
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer c.Disconnect(&paho.Disconnect{})
	fmt.Printf("CONNACK to pump-1 with its token: %#02x\n", ack.ReasonCode)
	for _, filter := range []string{"devices/pump-1/cmd", "devices/pump-2/cmd"} {
		sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
		if err != nil && sa == nil {
			fmt.Println("subscribe:", err)
			return
		}
		fmt.Printf("SUBACK for %s: %#02x\n", filter, sa.Reasons[0])
	}
	pr, err := c.Publish(ctx, &paho.Publish{Topic: "devices/pump-2/state", QoS: 1, Payload: []byte("on")})
	if pr == nil {
		fmt.Println("publish:", err)
		return
	}
	fmt.Printf("PUBACK for devices/pump-2/state: %#02x\n", pr.ReasonCode)
	fmt.Println("session of pump-1 in the store:", st.waitSubscribed(ctx, "pump-1", "devices/pump-1/cmd"))
	// Output:
	// CONNACK to pump-1 with "wrong": 0x86
	// CONNACK to pump-9 with "t0k3n": 0x87
	// CONNACK to pump-1 with its token: 0x00
	// SUBACK for devices/pump-1/cmd: 0x01
	// SUBACK for devices/pump-2/cmd: 0x87
	// PUBACK for devices/pump-2/state: 0x87
	// session of pump-1 in the store: true
}

// ExampleWithAuthenticator shows New refusing a configuration whose
// listener names a plugin backend the program does not supply, as the
// edgemq binary, which supplies none, does.
func ExampleWithAuthenticator() {
	cfg, err := embeddedConfig()
	if err != nil {
		fmt.Println("config:", err)
		return
	}
	_, err = gateway.New(cfg, zap.NewNop())
	fmt.Println(strings.Contains(err.Error(), `auth backend "devices": type plugin: no authenticator supplied`))

	_, err = gateway.New(cfg, zap.NewNop(), gateway.WithAuthenticator("device", deviceTokens{}))
	fmt.Println(err)
	// Output:
	// true
	// WithAuthenticator("device"): auth.backends has no entry "device" (one of type plugin)
}
