package gateway

// Security battery, sessions and their owners (issue 12): a session
// belongs to the identity that created it, read permission is checked at
// delivery, and the identity cannot change mid-session. Real sockets, real
// clients (paho.golang for MQTT 5, paho.mqtt.golang for 3.1.1), one
// gateway per row.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth/scram"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/golang-jwt/jwt/v5"
)

// ident is how a test client authenticates.
type ident struct {
	listener string // "" is tcp
	// user and password: the password file (or anonymous when both are
	// empty and nothing else is set).
	user, password string
	// jwtSub, when set, connects with a JWT whose sub (the username
	// claim) it is, as the password.
	jwtSub string
	// certCN, when set, connects over the mtls listener with a client
	// certificate of that CN (the cert backend, identity_as none).
	certCN string
}

func (id ident) String() string {
	switch {
	case id.jwtSub != "":
		return "jwt " + id.jwtSub
	case id.certCN != "":
		return "cert " + id.certCN
	case id.user != "":
		return "user " + id.user
	}
	return "anonymous on " + id.listener
}

// ownerServer is a gateway with the three kinds of identity: password
// file users (alice, bob, pub) and JWT users on listener tcp, the same
// users or anonymous clients on listener anon, client certificates on
// listener mtls. The ACL lets each user read and write users/%u/#, each
// certificate certs/<cn>/#, everyone public/#, and pub everything.
type ownerServer struct {
	ts  *testServer
	cfg *configs.Config
	key *testKey
	ca  *testCA
}

const ownerPassword = "secret-pw"

func ownerConfig(t *testing.T, binding string) (*configs.Config, *testKey, *testCA) {
	t.Helper()
	ca := newTestCA(t)
	key := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	cfg.Ops.Address = "127.0.0.1:0" // /metrics
	if binding != "" {
		cfg.Session.OwnerBinding = binding
	}
	passwd := filepath.Join(t.TempDir(), "passwd")
	h := bcryptHash(t, ownerPassword)
	writePasswordFile(t, passwd, "alice:"+h, "bob:"+h, "pub:"+h)
	cfg.Auth.Backends = map[string]configs.AuthBackend{
		"file":    {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: passwd}},
		"jwt":     {Type: "jwt", JWT: configs.JWTAuth{SecretFile: key.keyFile(t), UsernameClaim: "sub", Token: configs.JWTTokenSource{Password: true}}},
		"devices": {Type: "cert", Cert: configs.CertAuth{Identities: []string{"dev-1", "dev-2"}}},
	}
	cfg.TLS = map[string]configs.TLSSource{"mtls": {Source: "self_signed", ClientAuth: configs.ClientAuth{
		Mode: "required", CAFile: ca.write(t), Identity: "cn", IdentityAs: "none",
	}}}
	cfg.Listeners = []configs.Listener{
		{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0", Auth: []string{"file", "jwt"}, AllowAnonymous: refOf(false)},
		{Name: "anon", Type: "tcp", Address: "127.0.0.1:0", Auth: []string{"file"}, AllowAnonymous: refOf(true)},
		{Name: "mtls", Type: "tls", Address: "127.0.0.1:0", TLS: "mtls", Auth: []string{"devices"}, AllowAnonymous: refOf(false)},
	}
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "#", Username: "pub"},
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "allow", Action: "all", Topic: "certs/dev-1/#", CertIdentity: "dev-1"},
		{Permission: "allow", Action: "all", Topic: "certs/dev-2/#", CertIdentity: "dev-2"},
		{Permission: "allow", Action: "all", Topic: "public/#"},
	}}
	return cfg, key, ca
}

// connectPacket returns the v5 CONNECT of id for clientID (Session Expiry
// 300 s) and the options to reach id's listener.
func (o *ownerServer) connectPacket(t *testing.T, id ident, clientID string, clean bool) (*paho.Connect, []clientOpt) {
	t.Helper()
	cp := &paho.Connect{ClientID: clientID, CleanStart: clean, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: refOf[uint32](300), RequestProblemInfo: true}}
	var opts []clientOpt
	if id.listener != "" {
		opts = append(opts, viaListener(id.listener))
	}
	switch {
	case id.jwtSub != "":
		cp.PasswordFlag, cp.Password = true, []byte(o.key.sign(t, jwt.MapClaims{"sub": id.jwtSub}))
	case id.certCN != "":
		cert := o.ca.issue(t, id.certCN)
		opts = append(opts, viaListener("mtls"), dialingWith(tlsDialer(clientTLS(t, devCA(o.cfg), &cert))))
	case id.user != "":
		cp.UsernameFlag, cp.Username = true, id.user
		cp.PasswordFlag, cp.Password = true, []byte(id.password)
	}
	return cp, opts
}

func (o *ownerServer) connect(t *testing.T, id ident, clientID string, clean bool, will *paho.WillMessage) (*v5Client, *paho.Connack) {
	t.Helper()
	cp, opts := o.connectPacket(t, id, clientID, clean)
	cp.WillMessage = will
	c, ack, err := dialV5(t, o.ts, cp, opts...)
	if err != nil {
		t.Fatalf("%v connecting as %q: %v (connack %+v)", id, clientID, err, ack)
	}
	return c, ack
}

// dialV3As connects a 3.1.1 client as id (password file users and
// anonymous clients, tcp listeners only).
func (o *ownerServer) dialV3As(t *testing.T, id ident, clientID string, clean bool) (*mqtt3.ConnectToken, error) {
	t.Helper()
	if id.jwtSub != "" || id.certCN != "" {
		t.Fatalf("3.1.1 rows use password file users or anonymous clients")
	}
	var opts []clientOpt
	if id.listener != "" {
		opts = append(opts, viaListener(id.listener))
	}
	_, ct, err := dialV3(t, o.ts, clientID, func(mo *mqtt3.ClientOptions) {
		mo.SetCleanSession(clean)
		if id.user != "" {
			mo.SetUsername(id.user).SetPassword(id.password)
		}
	}, opts...)
	return ct, err
}

var (
	alice = ident{user: "alice", password: ownerPassword}
	bob   = ident{user: "bob", password: ownerPassword}
	pubID = ident{user: "pub", password: ownerPassword}
)

// topicOf is the topic tree id may read.
func topicOf(id ident) string {
	switch {
	case id.jwtSub != "":
		return "users/" + id.jwtSub
	case id.certCN != "":
		return "certs/" + id.certCN
	case id.user != "":
		return "users/" + id.user
	}
	return "public/anon"
}

// TestSessionOwnerBinding: a CONNECT of another identity that would
// resume (owner offline), take over (owner online) or, with Clean Start,
// discard a session is refused with Not Authorized, v5 CONNACK 0x87 with
// a reason string, 3.x return code 5 [MQTT-3.1.4-2]; the owner keeps its
// connection, its session and its queued message, and no will goes out.
// The refusal is counted per listener and logged. The same identity (from
// another listener too) still resumes; owner_binding any keeps plain MQTT
// takeover [MQTT-3.1.4-3], but the new holder receives only what its own
// ACL lets it read.
func TestSessionOwnerBinding(t *testing.T) {
	tests := []struct {
		name            string
		binding         string // "" strict
		owner, attacker ident
		online          bool // the owner is connected during the attack
		clean           bool // the attacker asks for Clean Start
		v3              bool // the attacker is a 3.1.1 client
		noProblemInfo   bool // the attacker sets Request Problem Information 0
		allowed         bool
	}{
		{name: "password users resume offline", owner: alice, attacker: bob},
		{name: "password users take over online", owner: alice, attacker: bob, online: true},
		{name: "password users clean start discards offline", owner: alice, attacker: bob, clean: true},
		{name: "password users clean start online", owner: alice, attacker: bob, online: true, clean: true},
		{name: "password users without problem information", owner: alice, attacker: bob, noProblemInfo: true},
		{name: "3.1.1 password user resumes offline", owner: alice, attacker: bob, v3: true},
		{name: "3.1.1 password user takes over online", owner: alice, attacker: bob, online: true, v3: true},
		{name: "jwt users resume offline", owner: ident{jwtSub: "dev-a"}, attacker: ident{jwtSub: "dev-b"}},
		{name: "jwt users take over online", owner: ident{jwtSub: "dev-a"}, attacker: ident{jwtSub: "dev-b"}, online: true},
		{name: "password user against jwt user", owner: ident{jwtSub: "dev-a"}, attacker: bob},
		{name: "certificates resume offline", owner: ident{certCN: "dev-1"}, attacker: ident{certCN: "dev-2"}},
		{name: "certificates take over online", owner: ident{certCN: "dev-1"}, attacker: ident{certCN: "dev-2"}, online: true},
		{name: "anonymous against authenticated offline", owner: alice, attacker: ident{listener: "anon"}},
		{name: "anonymous against authenticated online", owner: alice, attacker: ident{listener: "anon"}, online: true},
		{name: "3.1.1 anonymous against authenticated", owner: alice, attacker: ident{listener: "anon"}, v3: true},
		{name: "authenticated against anonymous", owner: ident{listener: "anon"}, attacker: alice},
		{name: "same user on another listener", owner: alice, attacker: ident{listener: "anon", user: "alice", password: ownerPassword}, allowed: true},
		{name: "same anonymous listener", owner: ident{listener: "anon"}, attacker: ident{listener: "anon"}, online: true, allowed: true},
		{name: "owner_binding any resume offline", binding: "any", owner: alice, attacker: bob, allowed: true},
		{name: "owner_binding any take over online", binding: "any", owner: alice, attacker: bob, online: true, allowed: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, key, ca := ownerConfig(t, tt.binding)
			ts, logs := startObserved(t, cfg, func(*Server) {})
			o := &ownerServer{ts: ts, cfg: cfg, key: key, ca: ca}
			id := "device-" + string(rune('a'+i))
			topic := topicOf(tt.owner)
			willTopic := "public/will/" + id

			pub, _ := o.connect(t, pubID, "pub-"+id, true, nil)
			pub.subscribe(t, willTopic, 1)
			owner, _ := o.connect(t, tt.owner, id, true, &paho.WillMessage{Topic: willTopic, QoS: 1, Payload: []byte("will")})
			owner.subscribe(t, topic+"/#", 1)
			if !tt.online {
				// A normal DISCONNECT: the will is discarded, the session
				// stays for its expiry.
				if err := owner.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
					t.Fatal(err)
				}
				waitConnections(t, ts, 1)
			}
			pub.publish(t, &paho.Publish{Topic: topic + "/secret", QoS: 1, Payload: []byte("secret-1")})
			if tt.online {
				if m := owner.expectMessage(t); string(m.Payload) != "secret-1" {
					t.Fatalf("owner got %q, want secret-1", m.Payload)
				}
				// Acknowledged: a takeover has nothing to redeliver.
				eventually(t, "the owner's PUBACK", func() bool {
					s := ts.eng.Broker().Lookup(id)
					return s != nil && s.View().Inflight == 0
				})
			}

			// The attack.
			listener := cmpOr(tt.attacker.listener, "tcp")
			if tt.attacker.certCN != "" {
				listener = "mtls"
			}
			if tt.v3 {
				ct, err := o.dialV3As(t, tt.attacker, id, tt.clean)
				if tt.allowed {
					if err != nil {
						t.Fatalf("3.1.1 %v: %v", tt.attacker, err)
					}
				} else if err == nil || ct.ReturnCode() != 5 {
					t.Fatalf("3.1.1 %v for %v's session: err %v, return code %d; want 5 (not authorized)", tt.attacker, tt.owner, err, ct.ReturnCode())
				}
			} else {
				cp, opts := o.connectPacket(t, tt.attacker, id, tt.clean)
				cp.Properties.RequestProblemInfo = !tt.noProblemInfo
				att, ack, err := dialV5(t, ts, cp, opts...)
				if !tt.allowed {
					if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.NotAuthorized {
						t.Fatalf("%v for %v's session: err %v, connack %+v; want 0x87", tt.attacker, tt.owner, err, ack)
					}
					if ack.SessionPresent {
						t.Errorf("refused CONNACK with Session Present [MQTT-3.2.2-6]")
					}
					// A Reason String for a client that did not refuse
					// Problem Information; for one that did, the server
					// chooses to send none (3.1.2.11.7 lets CONNACK carry
					// one either way [MQTT-3.1.2-29]).
					if tt.noProblemInfo {
						if ack.Properties != nil && ack.Properties.ReasonString != "" {
							t.Errorf("reason string %q to a client that refused problem information", ack.Properties.ReasonString)
						}
					} else if ack.Properties == nil || ack.Properties.ReasonString == "" {
						t.Errorf("refusal without a reason string: %+v", ack.Properties)
					} else if strings.Contains(ack.Properties.ReasonString, topicOf(tt.owner)) || (tt.owner.user != "" && strings.Contains(ack.Properties.ReasonString, tt.owner.user)) {
						t.Errorf("reason string %q names the owner", ack.Properties.ReasonString)
					}
				} else {
					if err != nil {
						t.Fatalf("%v: %v (connack %+v)", tt.attacker, err, ack)
					}
					if !ack.SessionPresent {
						t.Errorf("allowed resume without Session Present")
					}
					o.checkAllowed(t, tt.binding, tt.attacker, tt.owner, att, pub, owner, tt.online)
					return
				}
			}
			if tt.allowed {
				return // 3.1.1 allowed rows: the CONNECT went through
			}

			// Counted for the attacker's listener, logged (sampled).
			mfs := scrape(t, ts)
			if v := metricValue(mfs, "edgemq_session_takeover_refused_total", "listener", listener); v != 1 {
				t.Errorf("edgemq_session_takeover_refused_total{listener=%q} = %v, want 1", listener, v)
			}
			e := oneEntry(t, logs, "connection refused", "client_id", id)
			checkFields(t, "refusal log", e, map[string]any{"listener": listener, "reason_code": uint8(mqtt.NotAuthorized)})

			// No will went out: the next message on the will topic is the
			// fence.
			pub.expectFence(t, pub, willTopic)
			if tt.online {
				// Not kicked: the owner still receives, in order.
				pub.publish(t, &paho.Publish{Topic: topic + "/after", QoS: 1, Payload: []byte("after")})
				if m := owner.expectMessage(t); string(m.Payload) != "after" {
					t.Fatalf("owner got %q after the attack, want after", m.Payload)
				}
				select {
				case <-owner.lost:
					t.Fatalf("the owner lost its connection")
				default:
				}
				return
			}
			// The owner resumes its session with the queued message.
			back, ack := o.connect(t, tt.owner, id, false, nil)
			if !ack.SessionPresent {
				t.Fatalf("owner resumed without Session Present: the session was discarded")
			}
			if m := back.expectMessage(t); string(m.Payload) != "secret-1" {
				t.Fatalf("owner got %q, want the queued secret-1", m.Payload)
			}
		})
	}
}

// checkAllowed checks a resume or takeover that the binding allows: an
// online owner is taken over [MQTT-3.1.4-3]; with another identity (any),
// the new holder still reads only what its own ACL allows.
func (o *ownerServer) checkAllowed(t *testing.T, binding string, attacker, owner ident, att *v5Client, pub, prev *v5Client, online bool) {
	t.Helper()
	if online {
		if d := prev.expectServerDisconnect(t); mqtt.ReasonCode(d.ReasonCode) != mqtt.SessionTakenOver {
			t.Errorf("previous client: DISCONNECT %v, want 0x8E", d.ReasonCode)
		}
	}
	fence := "public/fence-" + att.ClientID()
	att.subscribe(t, fence, 1)
	if binding == "any" && topicOf(attacker) != topicOf(owner) {
		// Another identity holds the session: neither the queued secret
		// nor a new one is its to read.
		pub.publish(t, &paho.Publish{Topic: topicOf(owner) + "/later", QoS: 1, Payload: []byte("secret-2")})
		att.expectFence(t, pub, fence)
		if n := o.ts.eng.Stats().DroppedBy("read_denied"); n < 1 {
			t.Errorf("read_denied drops: %d, want at least 1", n)
		}
		return
	}
	if !online {
		if m := att.expectMessage(t); string(m.Payload) != "secret-1" {
			t.Fatalf("same identity got %q, want the queued secret-1", m.Payload)
		}
	}
	att.expectFence(t, pub, fence)
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// TestSessionOwnerRestart: the owner is stored with the session; after a
// restart another identity still may not resume it, the owner may.
func TestSessionOwnerRestart(t *testing.T) {
	cfg, key, ca := ownerConfig(t, "")
	cfg.Ops.Address = ""
	srv, stop := runFor(t, cfg)
	o := &ownerServer{ts: &testServer{Server: srv}, cfg: cfg, key: key, ca: ca}
	owner, _ := o.connect(t, alice, "restart-1", true, nil)
	owner.subscribe(t, "users/alice/#", 1)
	if err := owner.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the session to go offline", func() bool {
		s := srv.eng.Broker().Lookup("restart-1")
		return s != nil && !s.View().Connected
	})
	stop()

	srv, stop = runFor(t, cfg)
	defer stop()
	o.ts = &testServer{Server: srv}
	cp, opts := o.connectPacket(t, bob, "restart-1", false)
	_, ack, err := dialV5(t, o.ts, cp, opts...)
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.NotAuthorized {
		t.Fatalf("bob resuming alice's stored session: err %v, connack %+v; want 0x87", err, ack)
	}
	back, ack := o.connect(t, alice, "restart-1", false, nil)
	if !ack.SessionPresent {
		t.Fatalf("alice resumed without Session Present")
	}
	back.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// TestSessionWithoutOwnerAdopted: a session stored before sessions had
// owners (no owner in its record) is bound to the first identity that
// resumes it; another identity is refused from then on.
func TestSessionWithoutOwnerAdopted(t *testing.T) {
	cfg, key, ca := ownerConfig(t, "")
	cfg.Ops.Address = ""
	db, err := openStore(cfg)
	if err != nil || db == nil {
		t.Fatalf("opening the store: %v", err)
	}
	done := make(chan error, 1)
	db.Apply([]store.Op{{Kind: store.PutSession, Session: &store.Session{ClientID: "legacy", Expiry: 300,
		Subs: []store.Subscription{{Filter: "users/alice/#", QoS: 1}}}}}, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	srv, stop := runFor(t, cfg)
	defer stop()
	o := &ownerServer{ts: &testServer{Server: srv}, cfg: cfg, key: key, ca: ca}
	c, ack := o.connect(t, alice, "legacy", false, nil)
	if !ack.SessionPresent {
		t.Fatalf("the stored session was not resumed")
	}
	c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	cp, opts := o.connectPacket(t, bob, "legacy", false)
	_, ack, err = dialV5(t, o.ts, cp, opts...)
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.NotAuthorized {
		t.Fatalf("bob after alice adopted the session: err %v, connack %+v; want 0x87", err, ack)
	}
}

// TestACLRevocation: read permission is checked at delivery. An ACL file
// reload that revokes users/%u/# stops the deliveries of a granted
// subscription at once, for a connected subscriber and for an offline
// one whose queued message is dropped (counted as read_denied), through a
// plain or a shared subscription, while a subscription the new rules
// still allow keeps delivering; granted again, it delivers again.
func TestACLRevocation(t *testing.T) {
	tests := []struct {
		name      string
		filter    string // alice's subscription
		offline   bool
		wantDrops int64
	}{
		{name: "connected subscriber", filter: "users/alice/#", wantDrops: 1},
		{name: "offline subscriber with a queued message", filter: "users/alice/#", offline: true, wantDrops: 2},
		{name: "connected shared subscriber", filter: "$share/g/users/alice/#", wantDrops: 1},
		{name: "offline shared subscriber with a queued message", filter: "$share/g/users/alice/#", offline: true, wantDrops: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, key, ca := ownerConfig(t, "")
			aclFile := filepath.Join(t.TempDir(), "acl.yaml")
			granted := "rules:\n  - {permission: allow, action: all, topic: \"users/%u/#\"}\n"
			if err := os.WriteFile(aclFile, []byte(granted), 0o600); err != nil {
				t.Fatal(err)
			}
			// users/%u/# comes from the file only.
			cfg.ACL.Rules = []configs.ACLRule{cfg.ACL.Rules[0], cfg.ACL.Rules[4]}
			cfg.ACL.File, cfg.ACL.ReloadInterval = aclFile, 10*time.Millisecond
			ts := startServer(t, cfg)
			o := &ownerServer{ts: ts, cfg: cfg, key: key, ca: ca}

			pub, _ := o.connect(t, pubID, "pub", true, nil)
			sub, _ := o.connect(t, alice, "alice-1", true, nil)
			sub.subscribe(t, tt.filter, 1)
			sub.subscribe(t, "public/alice", 1)
			pub.publish(t, &paho.Publish{Topic: "users/alice/in", QoS: 1, Payload: []byte("before")})
			if m := sub.expectMessage(t); string(m.Payload) != "before" {
				t.Fatalf("got %q, want before", m.Payload)
			}
			if tt.offline {
				// paho acknowledges after its handler returned: wait for the
				// PUBACK, or "before" stays in flight, is resent on resume
				// and counts as a third read_denied drop.
				eventually(t, "the PUBACK of before", func() bool {
					s := ts.eng.Broker().Lookup("alice-1")
					return s != nil && s.View().Inflight == 0
				})
				if err := sub.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
					t.Fatal(err)
				}
				waitConnections(t, ts, 1)
				pub.publish(t, &paho.Publish{Topic: "users/alice/in", QoS: 1, Payload: []byte("queued")})
			}

			// Revoke: the file no longer grants users/%u/#.
			before := ts.eng.Authorizer()
			replaceFile(t, aclFile, "rules: []\n")
			eventually(t, "the acl file reload", func() bool { return ts.eng.Authorizer() != before })
			pub.publish(t, &paho.Publish{Topic: "users/alice/in", QoS: 1, Payload: []byte("after")})

			if tt.offline {
				var ack *paho.Connack
				sub, ack = o.connect(t, alice, "alice-1", false, nil)
				if !ack.SessionPresent {
					t.Fatalf("resumed without Session Present")
				}
			}
			// Nothing from users/alice: the next message is the fence on
			// the topic still allowed.
			sub.expectFence(t, pub, "public/alice")
			if n := ts.eng.Stats().DroppedBy("read_denied"); n != tt.wantDrops {
				t.Errorf("read_denied drops: %d, want %d", n, tt.wantDrops)
			}
			// New subscriptions follow the new rules too.
			if codes := sub.subscribeWithCodes(t, "users/alice/more"); len(codes) != 1 || codes[0] != byte(mqtt.NotAuthorized) {
				t.Errorf("subscribe after revocation: %v, want not authorized", codes)
			}

			// Granted again: deliveries resume.
			again := ts.eng.Authorizer()
			replaceFile(t, aclFile, granted+"# granted again\n")
			eventually(t, "the acl file reload", func() bool { return ts.eng.Authorizer() != again })
			pub.publish(t, &paho.Publish{Topic: "users/alice/in", QoS: 1, Payload: []byte("regranted")})
			if m := sub.expectMessage(t); string(m.Payload) != "regranted" {
				t.Fatalf("got %q, want regranted", m.Payload)
			}
		})
	}
}

// TestJWTClaimsAtDelivery: a JWT's ACL claims are part of the owner's read
// permission at delivery. The owner comes back with a new token whose
// claims no longer cover its subscription: the queued message and later
// ones are dropped (read_denied), what the claims still cover arrives.
func TestJWTClaimsAtDelivery(t *testing.T) {
	cfg, key, ca := ownerConfig(t, "")
	j := cfg.Auth.Backends["jwt"]
	j.JWT.ACLClaim = "acl"
	cfg.Auth.Backends["jwt"] = j
	ts := startServer(t, cfg)
	o := &ownerServer{ts: ts, cfg: cfg, key: key, ca: ca}
	token := func(sub ...any) *paho.Connect {
		cp, _ := o.connectPacket(t, ident{jwtSub: "dev-a"}, "claims-1", false)
		cp.Password = []byte(key.sign(t, jwt.MapClaims{"sub": "dev-a", "acl": map[string]any{"pub": []any{"public/#"}, "sub": sub}}))
		return cp
	}
	pub, _ := o.connect(t, pubID, "pub", true, nil)
	c := connectV5(t, ts, token("users/dev-a/#", "public/#"))
	c.subscribe(t, "users/dev-a/#", 1)
	c.subscribe(t, "public/dev-a", 1)
	if err := c.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, ts, 1)
	pub.publish(t, &paho.Publish{Topic: "users/dev-a/in", QoS: 1, Payload: []byte("queued")})

	c = connectV5(t, ts, token("public/#"))
	if !c.connack.SessionPresent {
		t.Fatalf("resumed without Session Present")
	}
	c.expectFence(t, pub, "public/dev-a")
	pub.publish(t, &paho.Publish{Topic: "users/dev-a/in", QoS: 1, Payload: []byte("live")})
	c.expectFence(t, pub, "public/dev-a")
	if n := ts.eng.Stats().DroppedBy("read_denied"); n != 2 {
		t.Errorf("read_denied drops: %d, want 2", n)
	}
}

// TestReauthOtherIdentity: an MQTT 5 re-authentication (AUTH 0x19) that
// authenticates another identity than the session's owner ends the
// connection with DISCONNECT 0x87 (4.12.1); the session stays its
// owner's.
func TestReauthOtherIdentity(t *testing.T) {
	tests := []struct {
		name, user, password string
		want                 mqtt.ReasonCode
	}{
		{"same identity", "alice", "wonderland", mqtt.Success},
		{"another identity", "bob", "builder", mqtt.NotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, scramConfig(t))
			a := newSCRAMAuther(t, scram.MethodSHA256, "alice", "wonderland")
			cp := scramConnect(t, "reauth-owner", a)
			cp.Properties.SessionExpiryInterval = refOf[uint32](300)
			c := connectV5(t, ts, cp, withAuther(a))
			c.subscribe(t, "news", 1)
			// The client's AUTH handler is a: it re-authenticates with the
			// row's credentials.
			a.client = newSCRAMAuther(t, scram.MethodSHA256, tt.user, tt.password).client
			resp, err := reauth(t, c, a)
			if tt.want == mqtt.Success {
				if err != nil || !resp.Success {
					t.Fatalf("re-authentication as the owner: %v, %+v", err, resp)
				}
				pub := connectV5(t, ts, v5Connect("pub"))
				c.expectFence(t, pub, "news")
				return
			}
			if d := c.expectServerDisconnect(t); mqtt.ReasonCode(d.ReasonCode) != tt.want {
				t.Fatalf("re-authentication as %s: DISCONNECT %v, want %v", tt.user, d.ReasonCode, tt.want)
			}
			// bob cannot have alice's session by connecting either.
			b := newSCRAMAuther(t, scram.MethodSHA256, "bob", "builder")
			cp = scramConnect(t, "reauth-owner", b)
			cp.CleanStart = false
			_, ack, err := dialV5(t, ts, cp, withAuther(b))
			if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.NotAuthorized {
				t.Fatalf("bob connecting to alice's session: %v, connack %+v; want 0x87", err, ack)
			}
		})
	}
}
