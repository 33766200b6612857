package backend

import (
	"errors"
	"fmt"
	"strings"
)

// Covering: a node holds a NATS subscription only for the subjects no
// other subscribed subject of the node covers (a.> covers a.b and a.*),
// so that a message matching several of its filters crosses to it once
// rather than once per subscription: every subject the node's filters
// need is counted (interest.plain), and one another covers is kept
// without a subscription. When a wildcard subject comes, the subjects it
// covers drop theirs, after it is subscribed; when it goes, the subjects
// it covered that nothing else covers are subscribed again, before it is
// dropped. Either way the node's server always has interest in every
// subject, so no message is missed meanwhile (at most it comes twice,
// and ingress drops the copy). The applier's goroutine owns this state.

// addPlain counts one more filter needing subj, subscribing to it unless
// another subscribed subject covers it.
func (in *interest) addPlain(subj string) error {
	if ref := in.plain[subj]; ref != nil {
		ref.refs++
		return nil
	}
	ref := &subRef{refs: 1}
	in.plain[subj] = ref
	if in.coveredByOther(subj) {
		return nil
	}
	return in.activate(subj, ref)
}

// removePlain counts one filter less needing subj; with none left, it
// subscribes what subj alone covered, then drops subj's subscription.
func (in *interest) removePlain(subj string) error {
	ref := in.plain[subj]
	if ref == nil {
		return nil
	}
	if ref.refs--; ref.refs > 0 {
		return nil
	}
	delete(in.plain, subj)
	if ref.sub == nil {
		return nil // covered: it had no subscription
	}
	delete(in.wild, subj)
	var errs []error
	if isWild(subj) {
		for t, r := range in.plain {
			if r.sub == nil && covers(subj, t) && !in.coveredByOther(t) {
				if err := in.activate(t, r); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	in.dropped += droppedBy(ref.sub)
	if err := ref.sub.Unsubscribe(); err != nil {
		errs = append(errs, fmt.Errorf("unsubscribing from %s: %w", subj, err))
	}
	return errors.Join(errs...)
}

// activate subscribes to subj; a wildcard subject then takes over the
// subscribed subjects it covers, which drop theirs.
func (in *interest) activate(subj string, ref *subRef) error {
	sub, err := in.nc.ChanSubscribe(subj, in.ing.ch)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", subj, err)
	}
	ref.sub = sub
	if !isWild(subj) {
		return nil
	}
	in.wild[subj] = struct{}{}
	var errs []error
	for t, r := range in.plain {
		if t == subj || r.sub == nil || !covers(subj, t) {
			continue
		}
		in.dropped += droppedBy(r.sub)
		if err := r.sub.Unsubscribe(); err != nil {
			errs = append(errs, fmt.Errorf("unsubscribing from %s: %w", t, err))
		}
		r.sub = nil
		delete(in.wild, t)
	}
	return errors.Join(errs...)
}

// coveredByOther reports whether a subscribed wildcard subject other than
// subj covers it.
func (in *interest) coveredByOther(subj string) bool {
	for w := range in.wild {
		if w != subj && covers(w, subj) {
			return true
		}
	}
	return false
}

// isWild reports whether a live subject has a wildcard token: a '*' or
// '>' in a subject is one, since a topic's are escaped.
func isWild(subj string) bool { return strings.ContainsAny(subj, "*>") }

// covers reports whether every subject w matches: its tokens,
// wildcards included, are each matched by w's.
func covers(w, s string) bool {
	wt, st := strings.Split(w, "."), strings.Split(s, ".")
	for i, tok := range wt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || st[i] == ">" {
			return false
		}
		if tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(st) == len(wt)
}
