// Package httphook authenticates clients by asking an HTTP service (Hook,
// a backend of type http), with a bounded cache of its answers.
//
// It may import mqtt, configs, certs (a certificate's identity),
// gateway/auth and gateway/internal/lockorder.
//
// Lock class: httpAuth.mu (the answer cache; a leaf, not held during a
// request).
package httphook
