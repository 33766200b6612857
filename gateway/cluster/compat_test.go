package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// TestSessionRecordUnknownFields decodes records a newer node wrote, with
// fields this version does not know, changes them as a node carrying the
// session on does, encodes them again and checks the unknown fields are
// all there, byte for byte, and still decode.
func TestSessionRecordUnknownFields(t *testing.T) {
	cases := []struct {
		name string
		json string
		// keep are the members that must come out unchanged; drop those
		// that must not (known ones, matched ignoring case as
		// encoding/json does, or nested in an element that is rebuilt).
		keep, drop []string
	}{
		{
			name: "one scalar",
			json: `{"owner":"a","epoch":3,"connected":false,"expiry":60,"cursor":9,"zz_flag":true}`,
			keep: []string{`"zz_flag":true`},
		},
		{
			name: "object with spacing and order",
			json: `{"owner":"a","zz_state":{"v":[1, 2],  "w":"\u00fc"},"epoch":3,"connected":true,"expiry":0,"cursor":0,"aa_next":[null,{"x":1.50}]}`,
			keep: []string{`"zz_state":{"v":[1, 2],  "w":"\u00fc"},"aa_next":[null,{"x":1.50}]`},
		},
		{
			name: "escaped name",
			json: `{"owner":"a","epoch":1,"connected":false,"expiry":5,"cursor":1,"new\"field":"x"}`,
			keep: []string{`"new\"field":"x"`},
		},
		{
			name: "known name in another case is known",
			json: `{"epoch":1,"connected":false,"expiry":5,"cursor":1,"OWNER":"b"}`,
			drop: []string{`"OWNER"`},
		},
		{
			name: "nested unknown is read, not kept",
			json: `{"owner":"a","epoch":1,"connected":false,"expiry":5,"cursor":1,"subs":[{"f":"a/b","q":1,"zz":7}],"zz_top":1}`,
			keep: []string{`"zz_top":1`},
			drop: []string{`"zz":7`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := cluster.DecodeSession(append([]byte{1}, tc.json...))
			if err != nil {
				t.Fatalf("decoding a record with unknown fields: %v", err)
			}
			if rec.Owner == "" || rec.Epoch == 0 {
				t.Fatalf("known fields not read: %+v", rec)
			}
			if rec.HasUnknown() != (len(tc.keep) > 0) {
				t.Fatalf("HasUnknown %v, want %v", rec.HasUnknown(), len(tc.keep) > 0)
			}
			// A checkpoint: the known fields change, the rest stays.
			rec.Epoch++
			rec.Cursor = 1000
			rec.Subs = []cluster.RecordSub{{Filter: "c/d", QoS: 2}}
			b, err := cluster.EncodeSession(rec)
			if err != nil {
				t.Fatal(err)
			}
			// A takeover builds a record anew and keeps them.
			fresh := &cluster.SessionRecord{Owner: "b", Epoch: rec.Epoch + 1, Cursor: rec.Cursor, Subs: rec.Subs}
			fresh.KeepUnknown(rec)
			b2, err := cluster.EncodeSession(fresh)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range [][]byte{b, b2} {
				for _, k := range tc.keep {
					if !bytes.Contains(out, []byte(k)) {
						t.Errorf("rewritten record %s lost %s", out, k)
					}
				}
				for _, d := range tc.drop {
					if bytes.Contains(out, []byte(d)) {
						t.Errorf("rewritten record %s holds %s", out, d)
					}
				}
				back, err := cluster.DecodeSession(out)
				if err != nil {
					t.Fatalf("decoding the rewritten record %s: %v", out, err)
				}
				if back.Cursor != 1000 || len(back.Subs) != 1 || back.Subs[0].Filter != "c/d" {
					t.Errorf("rewritten record read back as %+v", back)
				}
				// Written again: the same bytes (nothing doubles up).
				again, err := cluster.EncodeSession(back)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, out) {
					t.Errorf("second rewrite %s, first %s", again, out)
				}
			}
		})
	}
}

// FuzzSessionRecordUnknownFields checks the scan of a record's members
// against encoding/json's reading: every member of a record it decodes
// that is not a field of SessionRecord comes out of a rewrite with the
// same value.
func FuzzSessionRecordUnknownFields(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { } `,
		`{"owner":"a","epoch":3,"zz_flag":true}`,
		`{"zz":"a}\"{b","owner":"x"}`,
		`{ "zz" : [ {"}":"]"}, "\\" ] , "epoch" : 1 , "n":-1.5e3}`,
		`{"a":1,"a":2,"OWNER":"b","\u006fwner":"c"}`,
		`{"subs":[{"f":"a","zz":1}],"x":null,"y":false}`,
	} {
		f.Add([]byte(seed))
	}
	var known []string
	for field := range reflect.TypeFor[cluster.SessionRecord]().Fields() {
		if name, _, _ := strings.Cut(field.Tag.Get("json"), ","); name != "" && name != "-" {
			known = append(known, name)
		}
	}
	isKnown := func(k string) bool {
		return slices.ContainsFunc(known, func(n string) bool { return bytes.EqualFold([]byte(n), []byte(k)) })
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var members map[string]json.RawMessage
		if json.Unmarshal(data, &members) != nil {
			return
		}
		rec, err := cluster.DecodeSession(append([]byte{1}, data...))
		if err != nil {
			return // a known field of the wrong type
		}
		out, err := cluster.EncodeSession(rec)
		if err != nil {
			t.Fatalf("rewriting %s: %v", data, err)
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(out[1:], &back); err != nil {
			t.Fatalf("rewrite of %s is %s: %v", data, out[1:], err)
		}
		for k, v := range members {
			if isKnown(k) {
				continue
			}
			var a, b bytes.Buffer
			_ = json.Compact(&a, v)
			_ = json.Compact(&b, back[k])
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("member %q of %s: %s after a rewrite (%s), want %s", k, data, back[k], out[1:], v)
			}
		}
	})
}

// TestSessionRecordNewerVersion checks that a record of a newer version
// is refused with a *cluster.VersionError naming both versions, and a
// value without a version with another error.
func TestSessionRecordNewerVersion(t *testing.T) {
	cases := []struct {
		name    string
		value   []byte
		version byte // 0: no VersionError
	}{
		{"version 2", append([]byte{2}, `{"owner":"a","epoch":1}`...), 2},
		{"version 255, not json", []byte{255, 0xde, 0xad}, 255},
		{"version 0", append([]byte{0}, `{}`...), 0},
		{"empty", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := cluster.DecodeSession(tc.value)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", rec)
			}
			var ve *cluster.VersionError
			if got := errors.As(err, &ve); got != (tc.version != 0) {
				t.Fatalf("error %v: VersionError %v, want %v", err, got, tc.version != 0)
			}
			if ve != nil && (ve.Version != tc.version || ve.Known != 1) {
				t.Errorf("VersionError %+v, want version %d, known 1", ve, tc.version)
			}
		})
	}
}

// TestRetainedNewerVersion: a retained value of a newer version is
// refused as bad with a *cluster.VersionError (the mirror skips it,
// logging why).
func TestRetainedNewerVersion(t *testing.T) {
	v, err := cluster.EncodeRetained(&mqtt.Publish{Topic: "t", Payload: []byte("x")}, "c")
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []byte{2, 255} {
		newer := append([]byte{version}, v[1:]...)
		_, _, err := cluster.DecodeRetained(newer)
		var ve *cluster.VersionError
		if !errors.Is(err, cluster.ErrBadRetained) || !errors.As(err, &ve) || ve.Version != version || ve.Known != 1 {
			t.Errorf("version %d: %v, want ErrBadRetained and a VersionError", version, err)
		}
	}
}

// TestOwnerIndexKeysOfANewerNode: an index key with tokens after the
// four this version writes (a newer node's) is read, its key whole.
func TestOwnerIndexKeysOfANewerNode(t *testing.T) {
	node, sess := cluster.NodeKey("n1"), cluster.SessionKey("dev/1")
	cases := []struct {
		key string
		ok  bool
	}{
		{"own." + node + ".inc1." + sess + ".5", true},
		{"own." + node + ".inc1." + sess + ".5.flag", true},
		{"own." + node + ".inc1." + sess + ".5.a.b", true},
		{"own." + node + ".inc1." + sess, false},
		{"other." + node + ".inc1." + sess + ".5", false},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			e, ok := cluster.ParseIndexKey(tc.key)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if ok && (e.Key != tc.key || e.Node != "n1" || e.Incarnation != "inc1" || e.ClientID != "dev/1") {
				t.Fatalf("entry %+v", e)
			}
		})
	}
}

// TestKicksAcrossVersions: a kick request and a kick reply with fields a
// newer node adds are read by this version's ServeKicks and Kick, on a
// real NATS server.
func TestKicksAcrossVersions(t *testing.T) {
	c := clustertest.Start(t, 1)
	nc := c.Connect(t, 0)
	got := make(chan cluster.KickRequest, 1)
	ks, err := cluster.ServeKicks(nc, "older", time.Second, func(_ context.Context, req cluster.KickRequest) cluster.KickReply {
		got <- req
		return cluster.KickReply{Held: true, Cursor: 7}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	// A newer node's request to this one.
	m, err := nc.RequestWithContext(ctx, cluster.KickSubject("older"),
		[]byte(`{"client_id":"dev","epoch":3,"by":"newer","reason":"rebalance","zz":{"a":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if req := <-got; req.ClientID != "dev" || req.Epoch != 3 || req.By != "newer" {
		t.Fatalf("request read as %+v", req)
	}
	if bytes.Contains(m.Data, []byte(`"error"`)) || !bytes.Contains(m.Data, []byte(`"held":true`)) {
		t.Fatalf("reply %s", m.Data)
	}
	// A newer node's reply to this one's kick.
	sub, err := nc.Subscribe(cluster.KickSubject("newer"), func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"held":true,"cursor":9,"rels":[4],"out":[{"p":1,"q":2,"zz":true}],"state":{"x":1}}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	r, err := cluster.Kick(ctx, nc, "newer", cluster.KickRequest{ClientID: "dev", Epoch: 4, By: "older"})
	if err != nil {
		t.Fatalf("kick answered by a newer node: %v", err)
	}
	if !r.Held || r.Cursor != 9 || len(r.Rels) != 1 || len(r.Out) != 1 || r.Out[0].QoS != 2 {
		t.Fatalf("reply read as %+v", r)
	}
}

// BenchmarkDecodeSession decodes a record of ten subscriptions and a few
// deliveries in flight, as a claim or a lapse does.
func BenchmarkDecodeSession(b *testing.B) {
	rec := &cluster.SessionRecord{Owner: "node1", Incarnation: "inc", Epoch: 9, Connected: true, Expiry: 3600, Cursor: 123456}
	for i := range 10 {
		rec.Subs = append(rec.Subs, cluster.RecordSub{Filter: "site/" + string(rune('a'+i)) + "/+/telemetry", QoS: 1, ID: uint32(i)})
		rec.Out = append(rec.Out, cluster.RecordOut{PID: uint16(i + 1), QoS: 1, Seq: uint64(123456 + i)})
	}
	v, err := cluster.EncodeSession(rec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cluster.DecodeSession(v); err != nil {
			b.Fatal(err)
		}
	}
}
