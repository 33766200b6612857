package auth

import (
	"sync/atomic"

	"edgemq/mqtt"
)

// FailReason classifies failed authentications for the counters.
type FailReason uint8

// The reasons of a failure.
const (
	FailCredentials   FailReason = iota // 0x86 bad user name or password
	FailNotAuthorized                   // 0x87
	FailBadMethod                       // 0x8C
	FailOther
	// FailReasons is the number of reasons.
	FailReasons
)

var failNames = [FailReasons]string{"bad_credentials", "not_authorized", "bad_method", "other"}

// String is the reason's metric label.
func (r FailReason) String() string { return failNames[r] }

// Stats counts failed authentications: by reason, by the kind of backend
// that decided, and the refusals held back by the brute-force delay. The
// zero value is ready; its methods are safe for concurrent use.
type Stats struct {
	failures [FailReasons]atomic.Int64
	// byBackend splits failures by the kind of backend that decided.
	byBackend [Kinds][FailReasons]atomic.Int64
	// delayed counts refusals held back by the brute-force delay.
	delayed atomic.Int64
}

// Fail counts a failure with the refusal's reason code, decided by a
// backend of kind k.
func (s *Stats) Fail(k Kind, code mqtt.ReasonCode) {
	r := FailOther
	switch code {
	case mqtt.BadUserNameOrPassword:
		r = FailCredentials
	case mqtt.NotAuthorized:
		r = FailNotAuthorized
	case mqtt.BadAuthenticationMethod:
		r = FailBadMethod
	}
	s.failures[r].Add(1)
	s.byBackend[k][r].Add(1)
}

// Delay counts a refusal (or success) held back by the brute-force delay.
func (s *Stats) Delay() { s.delayed.Add(1) }

// Failures returns the failures counted for reason r.
func (s *Stats) Failures(r FailReason) int64 { return s.failures[r].Load() }

// FailuresBy returns the failures for reason r decided by kind k.
func (s *Stats) FailuresBy(k Kind, r FailReason) int64 { return s.byBackend[k][r].Load() }

// Delayed returns the answers held back by the brute-force delay.
func (s *Stats) Delayed() int64 { return s.delayed.Load() }

// FailuresByReason returns the failures by reason name (bad_credentials,
// not_authorized, bad_method, other), for Server.Stats.
func (s *Stats) FailuresByReason() map[string]int64 {
	out := make(map[string]int64, len(failNames))
	for r := range FailReasons {
		out[r.String()] = s.Failures(r)
	}
	return out
}
