package cluster_test

import (
	"bytes"
	"errors"
	"testing"

	"edgemq/gateway/cluster"
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
