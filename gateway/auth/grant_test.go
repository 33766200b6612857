package auth

import (
	"testing"

	"edgemq/configs"
)

// TestRateLimitClaimsParsed: a rate-limit claim's numbers replace the
// listener's publish_rate values they name; a claim that is not an
// object of numbers, or a negative one, is refused.
func TestRateLimitClaimsParsed(t *testing.T) {
	tests := []struct {
		name    string
		claim   any
		wantErr bool
		want    configs.PublishRate
	}{
		{"rates", map[string]any{"messages_per_second": 5.0, "bytes_per_second": 100.0}, false,
			configs.PublishRate{MessagesPerSecond: 5, MessagesBurst: 9, BytesPerSecond: 100, BytesBurst: 7, Action: "disconnect"}},
		{"bursts", map[string]any{"messages_burst": 3.0, "bytes_burst": 4.0}, false,
			configs.PublishRate{MessagesPerSecond: 1, MessagesBurst: 3, BytesPerSecond: 2, BytesBurst: 4, Action: "disconnect"}},
		{"not an object", "fast", true, configs.PublishRate{}},
		{"not a number", map[string]any{"messages_per_second": "5"}, true, configs.PublishRate{}},
		{"negative", map[string]any{"bytes_burst": -1.0}, true, configs.PublishRate{}},
	}
	base := configs.PublishRate{MessagesPerSecond: 1, MessagesBurst: 9, BytesPerSecond: 2, BytesBurst: 7, Action: "disconnect"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRateLimitClaim(tt.claim)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				if got := r.Apply(base); got != tt.want {
					t.Errorf("applied = %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

// TestACLClaimParsed: an acl claim is an object of lists of non-empty
// topic filters.
func TestACLClaimParsed(t *testing.T) {
	for _, tt := range []struct {
		name     string
		claim    any
		wantErr  bool
		pub, sub int
	}{
		{"both", map[string]any{"pub": []any{"a/#"}, "sub": []any{"b/+", "c"}}, false, 1, 2},
		{"pub only", map[string]any{"pub": []any{"a"}}, false, 1, 0},
		{"not an object", []any{"a"}, true, 0, 0},
		{"not a list", map[string]any{"pub": "a/#"}, true, 0, 0},
		{"empty filter", map[string]any{"sub": []any{""}}, true, 0, 0},
		{"not a string", map[string]any{"sub": []any{1.0}}, true, 0, 0},
	} {
		a, err := ParseACLClaim(tt.claim)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && (len(a.Pub) != tt.pub || len(a.Sub) != tt.sub) {
			t.Errorf("%s: %d pub, %d sub filters; want %d, %d", tt.name, len(a.Pub), len(a.Sub), tt.pub, tt.sub)
		}
	}
}
