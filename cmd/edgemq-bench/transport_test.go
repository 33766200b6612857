package main

import (
	"crypto/tls"
	"slices"
	"testing"
)

func TestParseCurves(t *testing.T) {
	tests := []struct {
		in      string
		want    []tls.CurveID
		wantErr bool
	}{
		{"x25519", []tls.CurveID{tls.X25519}, false},
		{"X25519, p256", []tls.CurveID{tls.X25519, tls.CurveP256}, false},
		{"x25519mlkem768,x25519", []tls.CurveID{tls.X25519MLKEM768, tls.X25519}, false},
		{"go", nil, false},
		{"", nil, false},
		{"p521", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCurves(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCurves(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseCurves(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
