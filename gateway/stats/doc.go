// Package stats holds the engine's hot-path counters: messages and bytes
// in and out, connections, packets by type, CONNACKs by reason code and
// dropped messages by reason. Every package of the engine counts into one
// shared *Counters; the metrics collector, $SYS and Server.Stats read it.
//
// It owns nothing but atomics and may import only the codec (mqtt).
package stats
