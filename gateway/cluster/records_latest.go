package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Latest returns the record of key as the bucket's stream leader holds
// it, or ErrNoRecord, asked through nc with the stream's message API
// ($JS.API.STREAM.MSG.GET), not a direct get. Get's direct gets may be
// answered by a replica that has not applied the last acknowledged
// write yet; the leader has applied every write it acknowledged. It
// costs a round trip to the leader: for the reads after a lost
// revision-checked write, which must see what moved the record on.
// Safe for concurrent use; ctx bounds the request.
func (r Records) Latest(ctx context.Context, nc *nats.Conn, key string) (Record, error) {
	return leaderGet(ctx, nc, r.kv.Bucket(), key)
}

// leaderGet reads key's last entry in KV bucket from the stream's
// leader (Records.Latest). An entry that deletes or purges the key, or a
// marker the server wrote (a TTL that ran out), is ErrNoRecord; its
// revision is returned with it.
func leaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) (Record, error) {
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == jsNoMessageFound:
		return Record{}, ErrNoRecord
	case resp.Error != nil:
		return Record{}, fmt.Errorf("reading record %s from the leader: %s (%d)", key, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return Record{}, errors.New("reading record " + key + " from the leader: an empty answer")
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
		}
		// A deletion or purge is a marker message (the KV's own
		// operation header), and so is a TTL's end (the server's).
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" || h.Get("Nats-Marker-Reason") != "" {
			return Record{Revision: resp.Message.Seq}, ErrNoRecord
		}
	}
	return Record{Value: resp.Message.Data, Revision: resp.Message.Seq}, nil
}
