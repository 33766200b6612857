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
// need is counted (interest.plain) and kept in a token tree (subjTree),
// and one another covers is kept without a subscription. When a wildcard
// subject comes, the subjects it covers drop theirs, after it is
// subscribed; when it goes, the subjects it covered that nothing else
// covers are subscribed again, before it is dropped. Either way the
// node's server always has interest in every subject, so no message is
// missed meanwhile (at most it comes twice, and ingress drops the copy).
// The tree makes each change cost the subjects it concerns, not all the
// node's. The applier's goroutine owns this state.

// subjTree is a tree of subjects by token; a node's ref is the subject
// ending there, nil if none.
type subjTree struct {
	kids map[string]*subjTree
	ref  *subRef
	subj string
}

// addPlain counts one more filter needing subj, subscribing to it unless
// another subscribed subject covers it.
func (in *interest) addPlain(subj string) error {
	if ref := in.plain[subj]; ref != nil {
		ref.refs++
		return nil
	}
	ref := &subRef{refs: 1}
	in.plain[subj] = ref
	in.tree.put(subj, ref)
	if in.tree.coveredBy(strings.Split(subj, "."), 0, subj) {
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
	in.tree.remove(strings.Split(subj, "."))
	if ref.sub == nil {
		return nil // covered: it had no subscription
	}
	var errs []error
	if isWild(subj) {
		var uncovered []*subjTree
		in.tree.covered(strings.Split(subj, "."), func(n *subjTree) {
			if n.ref.sub == nil {
				uncovered = append(uncovered, n)
			}
		})
		for _, n := range uncovered {
			if n.ref.sub == nil && !in.tree.coveredBy(strings.Split(n.subj, "."), 0, n.subj) {
				if err := in.activate(n.subj, n.ref); err != nil {
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
	var errs []error
	in.tree.covered(strings.Split(subj, "."), func(n *subjTree) {
		if n.subj == subj || n.ref.sub == nil {
			return
		}
		in.dropped += droppedBy(n.ref.sub)
		if err := n.ref.sub.Unsubscribe(); err != nil {
			errs = append(errs, fmt.Errorf("unsubscribing from %s: %w", n.subj, err))
		}
		n.ref.sub = nil
	})
	return errors.Join(errs...)
}

// put adds subj, with ref.
func (t *subjTree) put(subj string, ref *subRef) {
	n := t
	for tok := range strings.SplitSeq(subj, ".") {
		if n.kids == nil {
			n.kids = map[string]*subjTree{}
		}
		k := n.kids[tok]
		if k == nil {
			k = &subjTree{}
			n.kids[tok] = k
		}
		n = k
	}
	n.ref, n.subj = ref, subj
}

// remove removes the subject of toks, pruning empty nodes.
func (t *subjTree) remove(toks []string) {
	if len(toks) == 0 {
		t.ref, t.subj = nil, ""
		return
	}
	k := t.kids[toks[0]]
	if k == nil {
		return
	}
	k.remove(toks[1:])
	if k.ref == nil && len(k.kids) == 0 {
		delete(t.kids, toks[0])
	}
}

// coveredBy reports whether a subscribed subject of the tree other than
// self covers the subject of toks; t is the tree after i tokens matched.
func (t *subjTree) coveredBy(toks []string, i int, self string) bool {
	if i == len(toks) {
		return t.ref != nil && t.ref.sub != nil && t.subj != self
	}
	if k := t.kids[">"]; k != nil && k.ref != nil && k.ref.sub != nil && k.subj != self {
		return true // its > matches the rest, one token at least
	}
	tok := toks[i]
	if tok == ">" {
		return false // only a > covers a >
	}
	if k := t.kids["*"]; k != nil && k.coveredBy(toks, i+1, self) {
		return true // its * matches a token or a *
	}
	if tok != "*" {
		if k := t.kids[tok]; k != nil && k.coveredBy(toks, i+1, self) {
			return true
		}
	}
	return false
}

// covered calls fn for every subject in the tree the wildcard subject of
// toks covers, itself included.
func (t *subjTree) covered(toks []string, fn func(*subjTree)) {
	if len(toks) == 0 {
		if t.ref != nil {
			fn(t)
		}
		return
	}
	switch tok := toks[0]; tok {
	case ">":
		for _, k := range t.kids {
			k.each(fn)
		}
	case "*":
		for name, k := range t.kids {
			if name != ">" {
				k.covered(toks[1:], fn)
			}
		}
	default:
		if k := t.kids[tok]; k != nil {
			k.covered(toks[1:], fn)
		}
	}
}

// each calls fn for every subject at or below t.
func (t *subjTree) each(fn func(*subjTree)) {
	if t.ref != nil {
		fn(t)
	}
	for _, k := range t.kids {
		k.each(fn)
	}
}

// isWild reports whether a live subject has a wildcard token: a '*' or
// '>' in a subject is one, since a topic's are escaped.
func isWild(subj string) bool { return strings.ContainsAny(subj, "*>") }
