package configs

import (
	"fmt"
	"time"
)

// Publish rate limit actions (PublishRate.Action).
const (
	// RateBackpressure stops reading from the client until its buckets
	// hold tokens again: TCP flow control slows the client down.
	RateBackpressure = "backpressure"
	// RateDisconnect disconnects the client (v5: DISCONNECT 0x96 Message
	// rate too high).
	RateDisconnect = "disconnect"
)

// PublishRate limits what one client publishes with two token buckets:
// messages per second and payload bytes per second, each with its burst
// (the bucket size). A zero rate turns that bucket off.
type PublishRate struct {
	// MessagesPerSecond is the PUBLISH rate; 0: no limit.
	MessagesPerSecond float64 `yaml:"messages_per_second"`
	// MessagesBurst is how many PUBLISH packets may come at once; 0
	// means one second's worth (at least 1).
	MessagesBurst int `yaml:"messages_burst"`
	// BytesPerSecond is the payload byte rate; 0: no limit.
	BytesPerSecond float64 `yaml:"bytes_per_second"`
	// BytesBurst is how many payload bytes may come at once; 0 means one
	// second's worth. A larger message waits for a full bucket and
	// leaves it in debt.
	BytesBurst int64 `yaml:"bytes_burst"`
	// Action is backpressure (default) or disconnect.
	Action string `yaml:"action"`
}

// Enabled reports whether either bucket limits.
func (r PublishRate) Enabled() bool { return r.MessagesPerSecond > 0 || r.BytesPerSecond > 0 }

// Overload is the gateway-wide overload protection: a sampler compares
// the process's memory and goroutines with high-water marks every
// CheckInterval; while either is reached, new clients are refused "server
// busy" after CONNECT and QoS 0 messages to subscribers with a backlog are
// shed. A zero mark is off; a zero CheckInterval turns it all off.
type Overload struct {
	// MemoryHighWater is in bytes: the Go runtime's mapped memory not
	// released to the OS (runtime/metrics /memory/classes/total:bytes
	// minus /memory/classes/heap/released:bytes), close to the resident
	// size of the Go heap, stacks and runtime structures.
	MemoryHighWater int64 `yaml:"memory_high_water"`
	// GoroutineHighWater is a number of goroutines.
	GoroutineHighWater int `yaml:"goroutine_high_water"`
	// CheckInterval is how often both are measured.
	CheckInterval time.Duration `yaml:"check_interval"`
}

// Enabled reports whether the sampler runs.
func (o Overload) Enabled() bool {
	return o.CheckInterval > 0 && (o.MemoryHighWater > 0 || o.GoroutineHighWater > 0)
}

// minOverloadInterval bounds how often the sampler may run.
const minOverloadInterval = 10 * time.Millisecond

// ListenerAdmission overrides, for one listener, the per-IP limits of
// the top-level limits section. A nil field keeps the global value.
type ListenerAdmission struct {
	// PerIPConnections caps concurrent connections from one IP address
	// on this listener; 0 means no limit.
	PerIPConnections *int `yaml:"per_ip_connections"`
	// Rate overrides the per-IP connection rate; nil keeps limits.rate.
	Rate *ListenerRate `yaml:"rate"`
}

// ListenerRate is a listener's per-IP new-connection token bucket.
type ListenerRate struct {
	PerIP      float64 `yaml:"per_ip"`
	PerIPBurst int     `yaml:"per_ip_burst"`
}

// rateProblems checks a publish rate limit (of mqtt or a profile).
func rateProblems(r PublishRate) []fieldProblem {
	var ps []fieldProblem
	add := func(field, format string, args ...any) {
		ps = append(ps, fieldProblem{"publish_rate." + field, fmt.Sprintf(format, args...)})
	}
	if r.MessagesPerSecond < 0 {
		add("messages_per_second", "%g must not be negative (0 means no limit)", r.MessagesPerSecond)
	}
	if r.MessagesBurst < 0 {
		add("messages_burst", "%d must not be negative (0 means one second's worth)", r.MessagesBurst)
	}
	if r.BytesPerSecond < 0 {
		add("bytes_per_second", "%g must not be negative (0 means no limit)", r.BytesPerSecond)
	}
	if r.BytesBurst < 0 {
		add("bytes_burst", "%d must not be negative (0 means one second's worth)", r.BytesBurst)
	}
	switch r.Action {
	case "", RateBackpressure, RateDisconnect:
	default:
		add("action", "%q is not an action: want backpressure or disconnect", r.Action)
	}
	return ps
}

func (c *Config) validateOverload(ps *problems) {
	o := c.Overload
	if o.MemoryHighWater < 0 {
		ps.add("overload.memory_high_water", "%d must not be negative (0 means off)", o.MemoryHighWater)
	}
	if o.GoroutineHighWater < 0 {
		ps.add("overload.goroutine_high_water", "%d must not be negative (0 means off)", o.GoroutineHighWater)
	}
	if d := o.CheckInterval; d < 0 || (d > 0 && d < minOverloadInterval) {
		ps.add("overload.check_interval", "%s must be 0 (off) or at least %s", d, minOverloadInterval)
	}
}

// validateListenerLimits checks the listeners' admission overrides.
func (c *Config) validateListenerLimits(ps *problems) {
	for i, l := range c.Listeners {
		a := l.Limits
		if a == nil {
			continue
		}
		path := fmt.Sprintf("listeners[%d].limits", i)
		if a.PerIPConnections != nil && *a.PerIPConnections < 0 {
			ps.add(path+".per_ip_connections", "%d must not be negative (0 means no limit)", *a.PerIPConnections)
		}
		if r := a.Rate; r != nil {
			if r.PerIP < 0 {
				ps.add(path+".rate.per_ip", "%g must not be negative (0 means no limit)", r.PerIP)
			}
			if r.PerIP > 0 && r.PerIPBurst < 1 {
				ps.add(path+".rate.per_ip_burst", "%d must be at least 1 when rate.per_ip is set", r.PerIPBurst)
			}
		}
	}
}

// AdmissionFor returns the admission limits of listener l: the limits
// section with l's per-IP overrides applied.
func (c *Config) AdmissionFor(l Listener) Admission {
	a := c.Limits
	if o := l.Limits; o != nil {
		set(&a.PerIPConnections, o.PerIPConnections)
		if o.Rate != nil {
			a.Rate.PerIP, a.Rate.PerIPBurst = o.Rate.PerIP, o.Rate.PerIPBurst
		}
	}
	return a
}
