package cluster

// The layout across versions. Every node runs EnsureLayout at start, so
// during a rolling upgrade nodes of two versions (and nodes configured a
// little differently) ensure the same streams and buckets. Overwriting
// an existing stream's configuration with this version's would flip
// settings back and forth between versions, fail outright where the
// server refuses a step back (a stream's per-message TTLs cannot be
// turned off again), and drop settings this version's client does not
// know. So an existing stream or bucket is read, and updated only where
// it lacks what this version needs (reconcile): a feature turned on, a
// subject added, a window or age raised, the configured replicas. Nothing
// is ever turned off, removed or lowered, so versions agree whatever the
// order they start in. A version that needs a setting changed the other
// way, or changed in meaning, needs a new stream or bucket name instead.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// MinServerVersion is the oldest nats-server the cluster runs on: it
// needs per-message TTLs (the retained stream's AllowMsgTTL, the nodes
// bucket's per-key TTLs), which came with 2.11.
const MinServerVersion = "2.11.0"

// ServerVersionError is a NATS server too old for the layout: start-up
// fails with it, without retrying.
type ServerVersionError struct {
	// Version is the server's, as it reported it ("" when it did not).
	Version string
	// Lacks names what it lacks.
	Lacks string
}

func (e *ServerVersionError) Error() string {
	v := e.Version
	if v == "" {
		v = "of unknown version"
	}
	return fmt.Sprintf("nats-server %s lacks %s: edgemq's cluster needs nats-server %s or newer", v, e.Lacks, MinServerVersion)
}

// checkServerVersion returns a *ServerVersionError when version, as a
// server reports it ("2.10.22", "2.11.0-RC.1"), is older than
// MinServerVersion; nil when it is not, or cannot be read (the layout's
// own checks then tell).
func checkServerVersion(version string) error {
	have, ok := parseVersion(version)
	if !ok {
		return nil
	}
	need, _ := parseVersion(MinServerVersion)
	if slices.Compare(have[:], need[:]) < 0 {
		return &ServerVersionError{Version: version, Lacks: "per-message TTLs (stream allow_msg_ttl)"}
	}
	return nil
}

// parseVersion reads the major, minor and patch numbers of a version
// (a leading "v" and a "-" suffix ignored).
func parseVersion(v string) ([3]int, bool) {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	var out [3]int
	if len(parts) < 2 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// reconcile returns the configuration of a stream that exists as have,
// brought to what this version needs (want's settings, those it sets),
// and the names of the settings it changed (none: leave the stream as
// it is). It only adds: features want turns on, subjects want lists,
// windows and ages raised to want's, replicas as configured; have's
// other settings, and those a newer version set beyond want's, stay.
func reconcile(have, want jetstream.StreamConfig) (jetstream.StreamConfig, []string) {
	next := have
	next.Subjects = slices.Clone(have.Subjects)
	var changed []string
	if want.Replicas > 0 && have.Replicas != want.Replicas {
		// The operator's choice (cluster.replicas): every node should be
		// configured alike.
		next.Replicas = want.Replicas
		changed = append(changed, "replicas")
	}
	for _, s := range want.Subjects {
		if !slices.Contains(next.Subjects, s) {
			next.Subjects = append(next.Subjects, s)
			changed = append(changed, "subjects")
		}
	}
	turnOn := func(name string, want bool, have *bool) {
		if want && !*have {
			*have = true
			changed = append(changed, name)
		}
	}
	turnOn("allow_msg_ttl", want.AllowMsgTTL, &next.AllowMsgTTL)
	turnOn("allow_direct", want.AllowDirect, &next.AllowDirect)
	turnOn("allow_rollup_hdrs", want.AllowRollup, &next.AllowRollup)
	if want.MaxMsgsPerSubject > 0 && (have.MaxMsgsPerSubject <= 0 || have.MaxMsgsPerSubject > want.MaxMsgsPerSubject) {
		next.MaxMsgsPerSubject = want.MaxMsgsPerSubject
		changed = append(changed, "max_msgs_per_subject")
	}
	if want.Duplicates > have.Duplicates {
		next.Duplicates = want.Duplicates
		changed = append(changed, "duplicate_window")
	}
	if want.MaxAge > 0 && have.MaxAge > 0 && want.MaxAge > have.MaxAge {
		next.MaxAge = want.MaxAge
		changed = append(changed, "max_age")
	}
	if want.SubjectDeleteMarkerTTL > have.SubjectDeleteMarkerTTL {
		next.SubjectDeleteMarkerTTL = want.SubjectDeleteMarkerTTL
		changed = append(changed, "subject_delete_marker_ttl")
	}
	if want.RePublish != nil && have.RePublish == nil {
		next.RePublish = want.RePublish
		changed = append(changed, "republish")
	}
	return next, changed
}

// ensureStream returns the stream want names: created by create when
// there is none, or, when there is, updated where it lacks what want
// sets (reconcile), and left alone otherwise. Another node creating it
// meanwhile is no error.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, create func(context.Context) error) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = create(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, err
		}
		st, err = js.Stream(ctx, want.Name)
	}
	if err != nil {
		return nil, err
	}
	next, changed := reconcile(st.CachedInfo().Config, want)
	if len(changed) == 0 {
		return st, nil
	}
	st, err = js.UpdateStream(ctx, next)
	if err != nil {
		return nil, fmt.Errorf("updating %s of an existing layout: %w", strings.Join(changed, ", "), err)
	}
	return st, nil
}

// needMsgTTL returns a *ServerVersionError when the stream's
// configuration, as the server answered it, lacks per-message TTLs: a
// server older than 2.11 ignores the setting it does not know.
func needMsgTTL(st jetstream.Stream, version string) error {
	if cfg := st.CachedInfo().Config; !cfg.AllowMsgTTL {
		return fmt.Errorf("stream %s: %w", cfg.Name, &ServerVersionError{Version: version, Lacks: "per-message TTLs (the stream was created without allow_msg_ttl)"})
	}
	return nil
}
