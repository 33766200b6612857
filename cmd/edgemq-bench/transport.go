package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"edgemq/listeners"

	"github.com/gorilla/websocket"
)

// clientTLS builds the client TLS configuration of the tls and wss
// transports: a full handshake every time (no session cache), so that a
// connect measures what a new client costs.
func clientTLS(o options) (*tls.Config, error) {
	if o.transport != "tls" && o.transport != "wss" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return nil, fmt.Errorf("parsing -addr: %w", err)
	}
	tc := &tls.Config{ServerName: host, InsecureSkipVerify: o.insecure, NextProtos: []string{"mqtt"}}
	if o.transport == "wss" {
		tc.NextProtos = []string{"http/1.1"}
	}
	if tc.CurvePreferences, err = parseCurves(o.curves); err != nil {
		return nil, err
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading -cafile: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("reading -cafile: no certificate found")
		}
	}
	return tc, nil
}

// dialTransport opens one connection over o.transport and returns it as
// a byte stream carrying MQTT packets.
func dialTransport(ctx context.Context, d *net.Dialer, o options) (net.Conn, error) {
	switch o.transport {
	case "tcp":
		c, err := d.DialContext(ctx, "tcp", o.addr)
		if err != nil {
			return nil, fmt.Errorf("dialing: %w", err)
		}
		return c, nil
	case "tls":
		td := tls.Dialer{NetDialer: d, Config: o.tlsConfig}
		c, err := td.DialContext(ctx, "tcp", o.addr)
		if err != nil {
			return nil, fmt.Errorf("dialing tls: %w", err)
		}
		return c, nil
	case "ws", "wss":
		wd := websocket.Dialer{
			NetDialContext:  d.DialContext,
			TLSClientConfig: o.tlsConfig,
			Subprotocols:    []string{"mqtt"},
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
		}
		scheme := "ws"
		if o.transport == "wss" {
			scheme = "wss"
		}
		ws, resp, err := wd.DialContext(ctx, scheme+"://"+o.addr+o.path, http.Header{})
		if err != nil {
			return nil, fmt.Errorf("dialing %s: %w", scheme, err)
		}
		resp.Body.Close()
		return listeners.NewWSConn(ws, ws.RemoteAddr()), nil
	}
	return nil, fmt.Errorf("unknown transport %q", o.transport)
}

// curveNames are the -curves values.
var curveNames = map[string]tls.CurveID{
	"x25519":         tls.X25519,
	"x25519mlkem768": tls.X25519MLKEM768,
	"p256":           tls.CurveP256,
	"p384":           tls.CurveP384,
}

// parseCurves turns -curves into the key exchanges the client offers;
// "go" (or empty) keeps Go's defaults. The default, x25519 alone, is
// what the handshake figures are quoted for (ECDSA P-256, X25519), and
// what OpenSSL 3.0 clients offer.
func parseCurves(list string) ([]tls.CurveID, error) {
	if list == "" || list == "go" {
		return nil, nil
	}
	var out []tls.CurveID
	for _, name := range strings.Split(list, ",") {
		id, ok := curveNames[strings.TrimSpace(strings.ToLower(name))]
		if !ok {
			return nil, fmt.Errorf("parsing -curves: unknown key exchange %q", name)
		}
		out = append(out, id)
	}
	return out, nil
}
