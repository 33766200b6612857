package logsafe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain/topic", "plain/topic"},
		{"ünïcödé ☃", "ünïcödé ☃"},
		{"a\nb", `a\u000ab`},
		{"a\x7fb", `a\u007fb`},
		{"a\u0085b", `a\u0085b`},
		{"a\u009bb", `a\u009bb`},
		{"a\u2028b\u2029", `a\u2028b\u2029`},
		{"a\u202eb", `a\u202eb`},
		{"\x1b[31m", `\u001b[31m`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The production JSON encoder, fed escaped fields, writes one line of
// plain text whatever the client sent.
func TestFieldsInJSONLog(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.InfoLevel))
	hostile := "id\u2028{\"level\":\"error\"}\u0085\x7f\r\n"
	log.Info("client connected", String("client_id", hostile), Strings("offered", []string{"ok", hostile}))
	out := buf.String()
	if strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\u2028\u0085\x7f\r") {
		t.Fatalf("log output %q is not one clean line", out)
	}
	var e map[string]any
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e["client_id"] != Escape(hostile) {
		t.Errorf("client_id %q, want %q", e["client_id"], Escape(hostile))
	}
}

func TestError(t *testing.T) {
	if f := Error(nil); f.Type != zapcore.SkipType {
		t.Errorf("Error(nil) = %v, want a skipped field", f)
	}
	f := Error(errTest("bad topic a\u2028b"))
	if f.Key != "error" || f.String != `bad topic a\u2028b` {
		t.Errorf("Error = %q %q", f.Key, f.String)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

// BenchmarkEscape: the cost on the common path, a clean client id, and
// on a hostile one.
func BenchmarkEscape(b *testing.B) {
	for _, in := range []string{"sensor-0042-a1b2c3d4e5f6", "sensor\u2028forged\x7fline"} {
		b.Run(strings.ToValidUTF8(in, "?")[:6]+map[bool]string{true: "-clean", false: "-hostile"}[Escape(in) == in], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Escape(in)
			}
		})
	}
}
