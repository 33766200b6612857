package backend

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"edgemq/gateway/cluster"

	"github.com/nats-io/nats.go"
)

func TestParseAck(t *testing.T) {
	stream := cluster.MessagesStream
	tests := []struct {
		name   string
		data   string
		header nats.Header
		// ok: the stream stored it; byHand: readPubAck needs no
		// encoding/json for it.
		ok, byHand bool
		errHas     string
	}{
		{name: "stored", data: `{"stream":"` + stream + `","seq":42}`, ok: true, byHand: true},
		{name: "stored, largest sequence", data: `{"stream":"` + stream + `","seq":18446744073709551615}`, ok: true, byHand: true},
		{name: "with domain", data: `{"stream":"` + stream + `","domain":"hub","seq":7}`, ok: true, byHand: true},
		{name: "duplicate as the server writes it", data: `{"stream":"` + stream + `","seq":9,"duplicate": true}`, ok: true, byHand: true},
		{name: "duplicate without the space", data: `{"stream":"` + stream + `","seq":9,"duplicate":true}`, ok: true, byHand: true},
		{name: "whitespace: encoding/json reads it", data: "{ \"stream\" : \"" + stream + "\" ,\n\"seq\" : 3 }", ok: true},
		{name: "fields in another order", data: `{"seq":3,"stream":"` + stream + `"}`, ok: true},
		{name: "unknown field", data: `{"stream":"` + stream + `","seq":3,"batch":"b","count":2}`, ok: true},
		{name: "escaped stream name", data: `{"stream":"EMQ_MESS\u0041GES","seq":3}`, ok: true},
		{name: "jetstream error", data: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"` + stream + `","seq":0}`, errHas: "maximum messages exceeded"},
		{name: "error beside a sequence", data: `{"stream":"` + stream + `","seq":5,"error":{"code":400,"err_code":10071,"description":"wrong last sequence"}}`, errHas: "wrong last sequence"},
		{name: "another stream", data: `{"stream":"OTHER","seq":5}`, byHand: true, errHas: `stream "OTHER"`},
		{name: "sequence 0", data: `{"stream":"` + stream + `","seq":0}`, byHand: true, errHas: "acknowledged by stream"},
		{name: "no sequence", data: `{"stream":"` + stream + `"}`, errHas: "acknowledged by stream"},
		{name: "sequence overflows", data: `{"stream":"` + stream + `","seq":18446744073709551616}`, errHas: "reading the acknowledgement"},
		{name: "negative sequence", data: `{"stream":"` + stream + `","seq":-1}`, errHas: "reading the acknowledgement"},
		{name: "fractional sequence", data: `{"stream":"` + stream + `","seq":1.5}`, errHas: "reading the acknowledgement"},
		{name: "leading zero", data: `{"stream":"` + stream + `","seq":01}`, errHas: "reading the acknowledgement"},
		{name: "duplicate false", data: `{"stream":"` + stream + `","seq":4,"duplicate":false}`, ok: true},
		{name: "trailing bytes", data: `{"stream":"` + stream + `","seq":4}x`, errHas: "reading the acknowledgement"},
		{name: "truncated", data: `{"stream":"` + stream + `","seq":4`, errHas: "reading the acknowledgement"},
		{name: "empty", data: ``, errHas: "reading the acknowledgement"},
		{name: "not an object", data: `[1]`, errHas: "reading the acknowledgement"},
		{name: "no responders", header: nats.Header{"Status": {"503"}}, errHas: "status 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseAck(&nats.Msg{Data: []byte(tt.data), Header: tt.header})
			switch {
			case tt.ok && err != nil:
				t.Fatalf("parseAck(%s) = %v, want stored", tt.data, err)
			case !tt.ok && err == nil:
				t.Fatalf("parseAck(%s) = nil, want an error", tt.data)
			case !tt.ok && !errors.Is(err, errFailed):
				t.Fatalf("parseAck(%s) = %v, not errFailed", tt.data, err)
			case !tt.ok && !strings.Contains(err.Error(), tt.errHas):
				t.Fatalf("parseAck(%s) = %v, want it to say %q", tt.data, err, tt.errHas)
			}
			if tt.header != nil {
				return
			}
			if _, byHand := scanPubAck([]byte(tt.data)); byHand != tt.byHand {
				t.Errorf("scanPubAck(%s) read it: %v, want %v", tt.data, byHand, tt.byHand)
			}
		})
	}
}

// FuzzReadPubAck checks the hand reading against encoding/json: whatever
// scanPubAck reads, json.Unmarshal reads alike.
func FuzzReadPubAck(f *testing.F) {
	for _, s := range []string{
		`{"stream":"EMQ_MESSAGES","seq":42}`,
		`{"stream":"EMQ_MESSAGES","domain":"hub","seq":7}`,
		`{"stream":"EMQ_MESSAGES","seq":9,"duplicate": true}`,
		`{"stream":"EMQ_MESSAGES","seq":18446744073709551615}`,
		`{"stream":"EMQ_MESSAGES","seq":18446744073709551616}`,
		`{"stream":"EMQ_MESSAGES","seq":01}`,
		`{"stream":"A\"B","seq":1}`,
		`{"error":{"code":503,"err_code":10077,"description":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, byHand := scanPubAck(data)
		var want pubAck
		jerr := json.Unmarshal(data, &want)
		if !byHand {
			if _, err := readPubAck(data); (err == nil) != (jerr == nil) {
				t.Fatalf("readPubAck(%q) = %v, json.Unmarshal = %v", data, err, jerr)
			}
			return
		}
		if jerr != nil {
			t.Fatalf("scanPubAck(%q) read %+v, json.Unmarshal fails: %v", data, got, jerr)
		}
		if got.Stream != want.Stream || got.Seq != want.Seq || got.Duplicate != want.Duplicate || want.Error != nil {
			t.Fatalf("scanPubAck(%q) = %+v, json.Unmarshal = %+v", data, got, want)
		}
	})
}

func BenchmarkParseAck(b *testing.B) {
	msg := &nats.Msg{Data: []byte(`{"stream":"` + cluster.MessagesStream + `","seq":123456789}`)}
	b.ReportAllocs()
	for b.Loop() {
		if err := parseAck(msg); err != nil {
			b.Fatal(err)
		}
	}
}
