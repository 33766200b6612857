package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errCodeNoMessage is JetStream's error code for a message get that
// finds nothing.
const errCodeNoMessage = 10037

// LeaderGet reads key's last entry in the KV bucket named bucket through
// the stream leader's message API ($JS.API.STREAM.MSG.GET), not a direct
// get: a direct get may be answered by a replica that has not applied
// the last acknowledged write yet, and a test that reads once after a
// write must see it. It returns the value and revision, or
// jetstream.ErrKeyNotFound when the key has no entry or its last entry
// deletes it. Safe for concurrent use; ctx bounds the request.
func LeaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) ([]byte, uint64, error) {
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s/%s from the leader: %w", bucket, key, err)
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("reading %s/%s from the leader: %w", bucket, key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == errCodeNoMessage:
		return nil, 0, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("reading %s/%s from the leader: %s", bucket, key, resp.Error.Description)
	case resp.Message == nil:
		return nil, 0, errors.New("reading " + bucket + "/" + key + " from the leader: empty answer")
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, 0, fmt.Errorf("reading %s/%s from the leader: %w", bucket, key, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, 0, jetstream.ErrKeyNotFound
		}
	}
	return resp.Message.Data, resp.Message.Seq, nil
}
