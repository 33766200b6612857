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
	m, found, err := lastFromLeader(ctx, nc, "KV_"+bucket, "$KV."+bucket+"."+key)
	switch {
	case err != nil:
		return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
	case !found:
		return Record{}, ErrNoRecord
	}
	if len(m.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(m.Hdrs)
		if err != nil {
			return Record{}, fmt.Errorf("reading record %s from the leader: %w", key, err)
		}
		// A deletion or purge is a marker message (the KV's own
		// operation header), and so is a TTL's end (the server's).
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" || h.Get("Nats-Marker-Reason") != "" {
			return Record{Revision: m.Seq}, ErrNoRecord
		}
	}
	return Record{Value: m.Data, Revision: m.Seq}, nil
}

// leaderMsg is a stream message as the stream message API returns it.
type leaderMsg struct {
	Seq  uint64 `json:"seq"`
	Hdrs []byte `json:"hdrs"`
	Data []byte `json:"data"`
}

// jsNoMessageFound is JetStream's error code for a get that found no
// message.
const jsNoMessageFound = 10037

// lastFromLeader returns the newest message of stream on subject (which
// may hold wildcards), asked of the stream's leader through the stream
// message API ($JS.API.STREAM.MSG.GET): not a direct get, which any
// replica answers, possibly behind. found is false when there is none.
func lastFromLeader(ctx context.Context, nc *nats.Conn, stream, subject string) (m leaderMsg, found bool, err error) {
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return leaderMsg{}, false, err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return leaderMsg{}, false, err
	}
	var resp struct {
		Message *leaderMsg `json:"message"`
		Error   *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return leaderMsg{}, false, err
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == jsNoMessageFound:
		return leaderMsg{}, false, nil
	case resp.Error != nil:
		return leaderMsg{}, false, fmt.Errorf("%s (%d)", resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return leaderMsg{}, false, errors.New("an empty answer")
	}
	return *resp.Message, true, nil
}
