package main

// The subcommands of edgemq ctl.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"edgemq/mqtt"
)

// dispatchCtl runs command cmd with its arguments.
func dispatchCtl(env *ctlEnv, cmd string, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub = args[0]
	}
	switch cmd {
	case "status":
		return ctlStatus(ctx, env, args)
	case "clients", "client":
		switch sub {
		case "show":
			return ctlClientShow(ctx, env, args[1:])
		case "kick":
			return ctlClientKick(ctx, env, args[1:])
		case "list":
			return ctlClientList(ctx, env, args[1:])
		case "":
			return ctlClientList(ctx, env, args)
		}
		return usageErr("clients: unknown subcommand %q: want list, show or kick", sub)
	case "sessions", "session":
		switch sub {
		case "show":
			return ctlSessionShow(ctx, env, args[1:])
		case "delete", "rm":
			return ctlSessionDelete(ctx, env, args[1:])
		case "list":
			return ctlSessionList(ctx, env, args[1:])
		case "":
			return ctlSessionList(ctx, env, args)
		}
		return usageErr("sessions: unknown subcommand %q: want list, show or delete", sub)
	case "retained":
		switch sub {
		case "delete", "rm":
			return ctlRetainedDelete(ctx, env, args[1:])
		case "list":
			return ctlRetainedList(ctx, env, args[1:])
		case "":
			return ctlRetainedList(ctx, env, args)
		}
		return usageErr("retained: unknown subcommand %q: want list or delete", sub)
	case "publish", "pub":
		return ctlPublish(ctx, env, args)
	case "reload":
		return ctlPost(ctx, env, "reload", args, printReload)
	case "drain":
		return ctlPost(ctx, env, "drain", args, func(w io.Writer, data []byte) error {
			var d struct {
				Period string `json:"period"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return fmt.Errorf("decoding answer: %w", err)
			}
			_, err := fmt.Fprintf(w, "draining: clients are disconnected over %s, then the gateway exits\n", d.Period)
			return err
		})
	}
	return usageErr("unknown command %q", cmd)
}

// start parses a command's arguments and builds the client.
func start(env *ctlEnv, name string, args []string, setup func(*flag.FlagSet), want ...string) (*ctlClient, []string, error) {
	pos, err := parseCmd(env, name, args, setup, want...)
	if err != nil {
		return nil, nil, err
	}
	c, err := env.client()
	return c, pos, err
}

// emit prints data, the API's JSON, as JSON with --json, else with table.
func emit(env *ctlEnv, data []byte, table func(io.Writer, []byte) error) error {
	if env.json {
		return writeJSON(env.stdout, data)
	}
	return table(env.stdout, data)
}

// listAll fetches every page of a listing (path with its query) and
// returns {"items": [...]} with all items. A cluster-wide listing's pages
// name the nodes that did not answer (missing_nodes): the answer has
// them all, sorted, once.
func listAll(ctx context.Context, c *ctlClient, path string, q url.Values) ([]byte, error) {
	var all []json.RawMessage
	var missing map[string]bool
	for {
		data, err := c.do(ctx, "GET", path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var pg struct {
			Items        []json.RawMessage `json:"items"`
			Next         string            `json:"next"`
			MissingNodes []string          `json:"missing_nodes"`
		}
		if err := json.Unmarshal(data, &pg); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		all = append(all, pg.Items...)
		if pg.MissingNodes != nil && missing == nil {
			missing = map[string]bool{}
		}
		for _, n := range pg.MissingNodes {
			missing[n] = true
		}
		if pg.Next == "" {
			break
		}
		q.Set("after", pg.Next)
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	out := map[string]any{"items": all}
	if missing != nil {
		out["missing_nodes"] = append([]string{}, slices.Sorted(maps.Keys(missing))...) // [] when every node answered
	}
	return json.Marshal(out)
}

// stringFilters registers string flags whose non-empty values become
// query parameters.
func stringFilters(q url.Values, names map[string]string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		for flagName, param := range names {
			fs.Func(flagName, "only those with this "+param, func(v string) error {
				q.Set(param, v)
				return nil
			})
		}
	}
}

func ctlStatus(ctx context.Context, env *ctlEnv, args []string) error {
	c, _, err := start(env, "status", args, nil)
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "GET", "/status", nil)
	if err != nil {
		return err
	}
	return emit(env, data, printStatus)
}

func ctlClientList(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{"limit": {"1000"}}
	c, _, err := start(env, "clients list", args, func(fs *flag.FlagSet) {
		stringFilters(q, map[string]string{
			"listener": "listener", "transport": "transport", "username": "username",
			"client-id": "client_id", "protocol": "protocol",
		})(fs)
		scopeFlag(fs, q, "`node` (default): this node's clients; cluster: every node's, each with its node")
	})
	if err != nil {
		return err
	}
	data, err := listAll(ctx, c, "/clients", q)
	if err != nil {
		return err
	}
	return emit(env, data, printClients)
}

// scopeFlag registers --scope, node or cluster, as the scope parameter.
func scopeFlag(fs *flag.FlagSet, q url.Values, usage string) {
	fs.Func("scope", usage, func(v string) error {
		if v != "node" && v != "cluster" {
			return fmt.Errorf("%q is not node or cluster", v)
		}
		q.Set("scope", v)
		return nil
	})
}

// withQuery returns path with q's parameters, if any.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// oneClientScope is the usage of --scope of clients show and kick.
const oneClientScope = "`node` (default): a client of this node; cluster: of any node, asked through this one"

func ctlClientShow(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{}
	c, pos, err := start(env, "clients show", args, func(fs *flag.FlagSet) { scopeFlag(fs, q, oneClientScope) }, "ID")
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "GET", withQuery("/clients/"+escapeSegment(pos[0]), q), nil)
	if err != nil {
		return err
	}
	return emit(env, data, printClient)
}

func ctlClientKick(ctx context.Context, env *ctlEnv, args []string) error {
	var reason string
	q := url.Values{}
	c, pos, err := start(env, "clients kick", args, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "DISCONNECT reason `CODE` for a v5 client: 0x98 (default), 0x8B, or a name such as server-shutting-down")
		scopeFlag(fs, q, oneClientScope)
	}, "ID")
	if err != nil {
		return err
	}
	if reason != "" {
		code, err := reasonCode(reason)
		if err != nil {
			return err
		}
		q.Set("reason", code)
	}
	data, err := c.do(ctx, "DELETE", withQuery("/clients/"+escapeSegment(pos[0]), q), nil)
	if err != nil {
		return err
	}
	return emit(env, data, func(w io.Writer, data []byte) error {
		var k struct {
			ClientID   string `json:"client_id"`
			Protocol   string `json:"protocol"`
			ReasonCode string `json:"reason_code"`
			Node       string `json:"node"`
		}
		if err := json.Unmarshal(data, &k); err != nil {
			return fmt.Errorf("decoding answer: %w", err)
		}
		how := "closed (MQTT " + k.Protocol + " has no server DISCONNECT)"
		if k.Protocol == "5.0" {
			how = "sent DISCONNECT " + k.ReasonCode
			if n, err := strconv.ParseUint(k.ReasonCode, 0, 8); err == nil {
				how += " (" + mqtt.ReasonCode(n).String() + ")"
			}
		}
		on := ""
		if k.Node != "" {
			on = " on node " + k.Node
		}
		_, err := fmt.Fprintf(w, "kicked %s%s: %s\n", k.ClientID, on, how)
		return err
	})
}

func ctlSessionList(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{"limit": {"1000"}}
	c, _, err := start(env, "sessions list", args, func(fs *flag.FlagSet) {
		stringFilters(q, map[string]string{"client-id": "client_id"})(fs)
		fs.Func("connected", "only connected (true) or offline (false) sessions", func(v string) error {
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			q.Set("connected", v)
			return nil
		})
	})
	if err != nil {
		return err
	}
	data, err := listAll(ctx, c, "/sessions", q)
	if err != nil {
		return err
	}
	return emit(env, data, printSessions)
}

// oneSessionScope is the usage of --scope of sessions show and delete.
const oneSessionScope = "`node` (default): a session of this node; cluster: of any node, asked through this one"

func ctlSessionShow(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{}
	c, pos, err := start(env, "sessions show", args, func(fs *flag.FlagSet) { scopeFlag(fs, q, oneSessionScope) }, "ID")
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "GET", withQuery("/sessions/"+escapeSegment(pos[0]), q), nil)
	if err != nil {
		return err
	}
	return emit(env, data, printSession)
}

func ctlSessionDelete(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{}
	c, pos, err := start(env, "sessions delete", args, func(fs *flag.FlagSet) { scopeFlag(fs, q, oneSessionScope) }, "ID")
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "DELETE", withQuery("/sessions/"+escapeSegment(pos[0]), q), nil)
	if err != nil {
		return err
	}
	return emit(env, data, func(w io.Writer, data []byte) error {
		var d struct {
			ClientID string `json:"client_id"`
			Kicked   bool   `json:"kicked"`
			Node     string `json:"node"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("decoding answer: %w", err)
		}
		on, extra := "", ""
		if d.Node != "" {
			on = " on node " + d.Node
		}
		if d.Kicked {
			extra = " (the connected client was kicked first)"
		}
		_, err := fmt.Fprintf(w, "deleted the session of %s%s%s\n", d.ClientID, on, extra)
		return err
	})
}

func ctlRetainedList(ctx context.Context, env *ctlEnv, args []string) error {
	q := url.Values{"limit": {"1000"}}
	var payload bool
	c, _, err := start(env, "retained list", args, func(fs *flag.FlagSet) {
		stringFilters(q, map[string]string{"filter": "filter"})(fs)
		fs.BoolVar(&payload, "payload", false, "include the payloads")
	})
	if err != nil {
		return err
	}
	if payload {
		q.Set("payload", "true")
	}
	data, err := listAll(ctx, c, "/retained", q)
	if err != nil {
		return err
	}
	return emit(env, data, printRetained)
}

func ctlRetainedDelete(ctx context.Context, env *ctlEnv, args []string) error {
	c, pos, err := start(env, "retained delete", args, nil, "TOPIC")
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "DELETE", "/retained/"+escapeSegment(pos[0]), nil)
	if err != nil {
		return err
	}
	return emit(env, data, func(w io.Writer, _ []byte) error {
		_, err := fmt.Fprintf(w, "deleted the retained message of %s\n", pos[0])
		return err
	})
}

// publishBody is the body of POST /api/v1/publish.
type publishBody struct {
	Topic           string              `json:"topic"`
	Payload         string              `json:"payload"`
	PayloadEncoding string              `json:"payload_encoding,omitempty"`
	QoS             int                 `json:"qos"`
	Retain          bool                `json:"retain"`
	ContentType     string              `json:"content_type,omitempty"`
	UserProperties  []map[string]string `json:"user_properties,omitempty"`
	MessageExpiry   uint32              `json:"message_expiry,omitempty"`
}

func ctlPublish(ctx context.Context, env *ctlEnv, args []string) error {
	var b publishBody
	var isBase64 bool
	c, pos, err := start(env, "publish", args, func(fs *flag.FlagSet) {
		fs.IntVar(&b.QoS, "qos", 0, "QoS 0, 1 or 2")
		fs.BoolVar(&b.Retain, "retain", false, "retain the message")
		fs.StringVar(&b.ContentType, "content-type", "", "Content Type property")
		fs.Func("expiry", "Message Expiry Interval in `SECONDS`", func(v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			b.MessageExpiry = uint32(n)
			return err
		})
		fs.Func("user-property", "a User Property `KEY=VALUE` (repeatable)", func(v string) error {
			k, val, ok := strings.Cut(v, "=")
			if !ok {
				return fmt.Errorf("%q is not KEY=VALUE", v)
			}
			b.UserProperties = append(b.UserProperties, map[string]string{"key": k, "value": val})
			return nil
		})
		fs.BoolVar(&isBase64, "base64", false, "PAYLOAD is base64 (binary payloads)")
	}, "TOPIC", "PAYLOAD")
	if err != nil {
		return err
	}
	b.Topic, b.Payload = pos[0], pos[1]
	if b.Payload == "-" {
		data, err := io.ReadAll(io.LimitReader(env.stdin, 3<<20))
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		b.Payload = string(data)
	}
	if isBase64 {
		b.PayloadEncoding = "base64"
	}
	data, err := c.do(ctx, "POST", "/publish", b)
	if err != nil {
		return err
	}
	return emit(env, data, func(w io.Writer, data []byte) error {
		var r struct {
			DeliveredTo int  `json:"delivered_to"`
			Retained    bool `json:"retained"`
			Stored      bool `json:"stored"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("decoding answer: %w", err)
		}
		extra := ""
		if r.Retained {
			extra += ", retained"
		}
		if r.Stored {
			extra += ", stored"
		}
		_, err := fmt.Fprintf(w, "published to %s: delivered to %d%s\n", b.Topic, r.DeliveredTo, extra)
		return err
	})
}

// reasonCode returns the --reason value as the API takes it: a number
// (0x8B, 139) as given, a reason name (server-shutting-down, server
// shutting down, SERVER_SHUTTING_DOWN) as its code. Whether a server may
// send the code is the API's to judge.
func reasonCode(v string) (string, error) {
	if _, err := strconv.ParseUint(v, 0, 8); err == nil {
		return v, nil
	}
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", " ", "_", " ").Replace(strings.TrimSpace(s)))
	}
	want := norm(v)
	for c := range 256 {
		if norm(mqtt.ReasonCode(c).String()) == want {
			return fmt.Sprintf("0x%02X", c), nil
		}
	}
	return "", usageErr("--reason %q is neither a reason code (0x8B) nor a reason name (server-shutting-down)", v)
}

// ctlPost runs a POST without arguments (reload, drain).
func ctlPost(ctx context.Context, env *ctlEnv, name string, args []string, table func(io.Writer, []byte) error) error {
	c, _, err := start(env, name, args, nil)
	if err != nil {
		return err
	}
	data, err := c.do(ctx, "POST", "/"+name, nil)
	if err != nil {
		return err
	}
	return emit(env, data, table)
}
