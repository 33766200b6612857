package configs

import "testing"

// The keys of the security settings: trusted_proxy_header,
// websocket.server_names and tls cipher_suites.
func TestSecurityKeysValid(t *testing.T) {
	for _, src := range []string{
		listeners("{name: a, type: ws, address: '127.0.0.1:1', trusted_proxies: [10.0.0.0/8], trusted_proxy_header: forwarded}"),
		listeners("{name: a, type: wss, address: '127.0.0.1:1', tls: dev, trusted_proxy_header: X-Forwarded-For}"),
		listeners("{name: a, type: ws, address: '127.0.0.1:1', websocket: {server_names: [mqtt.example.com, 192.0.2.7, '[2001:db8::1]', 'edge-1.local.']}}"),
		"tls:\n  a: {cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA]}\n",
	} {
		parse(t, src)
	}
}

func TestSecurityKeysRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"proxy header", listeners("{name: a, type: ws, address: '127.0.0.1:1', trusted_proxy_header: x-real-ip}"),
			[]string{`listeners[0].trusted_proxy_header: "x-real-ip" is not a header: want x-forwarded-for or forwarded`}},
		{"proxy header on tcp", listeners("{name: a, type: tcp, address: '127.0.0.1:1', trusted_proxy_header: forwarded}"),
			[]string{`listeners[0].trusted_proxy_header: only ws and wss listeners read proxy headers, not tcp`}},
		{"server name with scheme", listeners("{name: a, type: ws, address: '127.0.0.1:1', websocket: {server_names: ['https://mqtt.example.com']}}"),
			[]string{`listeners[0].websocket.server_names[0]: "https://mqtt.example.com" is not a host name or address`}},
		{"server name with port", listeners("{name: a, type: ws, address: '127.0.0.1:1', websocket: {server_names: ['mqtt.example.com:443']}}"),
			[]string{`listeners[0].websocket.server_names[0]: "mqtt.example.com:443" is not a host name or address`}},
		{"server name wildcard", listeners("{name: a, type: ws, address: '127.0.0.1:1', websocket: {server_names: ['*.example.com']}}"),
			[]string{`listeners[0].websocket.server_names[0]: "*.example.com" is not a host name or address`}},
		{"server names on tcp", listeners("{name: a, type: tcp, address: '127.0.0.1:1', websocket: {server_names: [x.example.com]}}"),
			[]string{`listeners[0].websocket: only ws and wss listeners take websocket settings, not tcp`}},
		{"rsa key exchange suite", "tls:\n  a: {cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]}\n",
			[]string{`tls.a.cipher_suites[0]: "TLS_RSA_WITH_AES_128_GCM_SHA256" is not a TLS 1.2 cipher suite Go offers`}},
		{"tls 1.3 suite", "tls:\n  a: {cipher_suites: [TLS_AES_128_GCM_SHA256]}\n",
			[]string{`tls.a.cipher_suites[0]: "TLS_AES_128_GCM_SHA256" is not a TLS 1.2 cipher suite`}},
		{"suites with 1.3", "tls:\n  a: {min_version: \"1.3\", cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]}\n",
			[]string{`tls.a.cipher_suites: has no effect with min_version 1.3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}
