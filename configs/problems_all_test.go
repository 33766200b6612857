package configs

import (
	"slices"
	"testing"
)

// TestEveryProblemInOnePass: a file with unknown keys or wrongly typed
// values also gets the problems of its other values, so that one run of
// `edgemq check` lists everything to fix; each once, in file order.
func TestEveryProblemInOnePass(t *testing.T) {
	tests := []struct {
		name, src string
		want      []Problem
	}{
		{"unknown key and a bad value",
			"lgo: {}\nlog:\n  level: loud\n",
			[]Problem{
				{Path: "lgo", Line: 1, Reason: "unknown key; did you mean log?"},
				{Path: "log.level", Line: 3, Reason: `"loud" is not a level: want debug, info, warn or error`},
			}},
		{"wrong type and bad values",
			"session:\n  max_outbound_queue: 0\nmqtt:\n  receive_maximum: many\nshutdown_timeout: 0s\n",
			[]Problem{
				{Path: "session.max_outbound_queue", Line: 2, Reason: "0 must be at least 1"},
				{Path: "mqtt.receive_maximum", Line: 4, Reason: `"many" is not an integer from 0 to 65535`},
				{Path: "shutdown_timeout", Line: 5, Reason: "0s must be above 0"},
			}},
		{"duplicate key and a bad value",
			"log:\n  format: xml\n  format: json\ndrain:\n  period: -1s\n",
			[]Problem{
				{Path: "log.format", Line: 3, Reason: "duplicate key (first set on line 2)"},
				{Path: "drain.period", Line: 5, Reason: "-1s must not be negative"},
			}},
		{"a problem under a wrongly typed value is not repeated",
			"listeners: tcp\nlog:\n  level: loud\n",
			[]Problem{
				{Path: "listeners", Line: 1, Reason: "expected a list (- item lines), found \"tcp\""},
				{Path: "log.level", Line: 3, Reason: `"loud" is not a level: want debug, info, warn or error`},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.src))
			got := problemsOf(t, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%v\nwant:\n%v", got, tt.want)
			}
		})
	}
}
