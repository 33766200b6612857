package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Questions every node answers about itself, for the admin API's
// cluster-wide views: one request on AskSubject(question) reaches every
// node (no queue group), and each answers it with its own view; the
// asker merges them. Answers are opaque bytes here (the admin API's
// JSON); each names its node in HeaderNode.
const (
	// AskPrefix starts the subjects of the questions.
	AskPrefix = "emq_ctl.ask."
	// HeaderNode names the node an answer comes from.
	HeaderNode = "Emq-Node"
	// HeaderAskError carries a node's failure to answer, instead of a
	// body.
	HeaderAskError = "Emq-Error"
)

// AskSubject returns the subject of question (a single token).
func AskSubject(question string) string { return AskPrefix + question }

// Answer subscribes node to question on nc: every request is answered
// with answer's bytes, or its error. answer runs on the subscription's
// goroutine, one request at a time, holding none of our locks. Stop the
// returned subscription to stop answering.
func Answer(nc *nats.Conn, node, question string, answer func() ([]byte, error)) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(AskSubject(question), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		reply := &nats.Msg{Subject: m.Reply, Header: nats.Header{HeaderNode: []string{node}}}
		if b, err := answer(); err != nil {
			reply.Header.Set(HeaderAskError, err.Error())
		} else {
			reply.Data = b
		}
		_ = nc.PublishMsg(reply) // the asker stops waiting at its deadline
	})
	if err != nil {
		return nil, fmt.Errorf("answering %s: %w", question, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("answering %s: %w", question, err)
	}
	return sub, nil
}

// AskAll asks question of every node and collects the answers by node
// name until each node of nodes answered or ctx ends (its deadline
// bounds the wait for a node that does not answer: stopped, cut off, or
// of a version without the question). missing lists, sorted, the nodes
// of nodes that did not answer, and those that answered with an error;
// a node not in nodes that answers is kept too. err is set only when the
// question could not be sent.
func AskAll(ctx context.Context, nc *nats.Conn, question string, nodes []string) (answers map[string][]byte, missing []string, err error) {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, nil, fmt.Errorf("asking %s: %w", question, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(AskSubject(question), inbox, nil); err != nil {
		return nil, nil, fmt.Errorf("asking %s: %w", question, err)
	}
	answers = map[string][]byte{}
	failed := map[string]bool{}
	want := map[string]bool{}
	for _, n := range nodes {
		want[n] = true
	}
	for len(want) > 0 {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break // ctx ended: the rest are missing
		}
		node := m.Header.Get(HeaderNode)
		if !want[node] {
			continue // not asked (a node answers every question), or a repeat
		}
		delete(want, node)
		if m.Header.Get(HeaderAskError) != "" {
			failed[node] = true
			continue
		}
		answers[node] = m.Data
	}
	for n := range failed {
		want[n] = true
	}
	return answers, slices.Sorted(maps.Keys(want)), nil
}

// LiveNodes returns the names of the nodes whose liveness record is in
// kv (the nodes bucket: a record lapses after its TTL), sorted.
func LiveNodes(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the live nodes: %w", err)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if n, err := KeyName(k); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}
