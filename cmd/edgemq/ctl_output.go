package main

// edgemq ctl's output: the API's JSON indented (--json), or tables.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// writeJSON prints the API's JSON indented, one document.
func writeJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		return fmt.Errorf("indenting answer: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// table writes rows aligned in columns, a header first.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// decodeItems decodes {"items": [...]} into []T.
func decodeItems[T any](data []byte) ([]T, error) {
	var pg struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal(data, &pg); err != nil {
		return nil, fmt.Errorf("decoding answer: %w", err)
	}
	return pg.Items, nil
}

// expiryText shows a Session Expiry Interval.
func expiryText(s uint32) string {
	if s == 0xFFFFFFFF {
		return "never"
	}
	return (time.Duration(s) * time.Second).String()
}

type ctlClientItem struct {
	ClientID    string    `json:"client_id"`
	Username    string    `json:"username"`
	Listener    string    `json:"listener"`
	Transport   string    `json:"transport"`
	RemoteAddr  string    `json:"remote_addr"`
	Protocol    string    `json:"protocol"`
	ConnectedAt time.Time `json:"connected_at"`
	KeepAlive   int       `json:"keep_alive"`
	// Node is the cluster node the client is on ("" on a single node).
	Node string `json:"node"`
}

// printClients prints a client listing; a cluster node's adds a NODE
// column, and a cluster-wide one says which nodes did not answer (their
// clients are not in it).
func printClients(w io.Writer, data []byte) error {
	var pg struct {
		Items        []ctlClientItem `json:"items"`
		MissingNodes []string        `json:"missing_nodes"`
	}
	if err := json.Unmarshal(data, &pg); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	items := pg.Items
	withNode := false
	for _, c := range items {
		withNode = withNode || c.Node != ""
	}
	header := []string{"CLIENT ID", "USERNAME", "LISTENER", "TRANSPORT", "PROTOCOL", "REMOTE", "CONNECTED", "KEEP ALIVE"}
	if withNode {
		header = append([]string{"NODE"}, header...)
	}
	rows := make([][]string, 0, len(items))
	for _, c := range items {
		r := []string{c.ClientID, c.Username, c.Listener, c.Transport, c.Protocol, c.RemoteAddr,
			c.ConnectedAt.Local().Format(time.DateTime), fmt.Sprintf("%ds", c.KeepAlive)}
		if withNode {
			r = append([]string{c.Node}, r...)
		}
		rows = append(rows, r)
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "%d clients\n", len(items)); err != nil {
		return err
	}
	if len(pg.MissingNodes) > 0 {
		_, err := fmt.Fprintf(w, "nodes that did not answer (their clients are not listed): %s\n", strings.Join(pg.MissingNodes, ", "))
		return err
	}
	return nil
}

type ctlSubscription struct {
	Filter            string `json:"filter"`
	QoS               int    `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    int    `json:"retain_handling"`
	Identifier        uint32 `json:"identifier"`
}

func printSubscriptions(w io.Writer, subs []ctlSubscription) error {
	if len(subs) == 0 {
		_, err := fmt.Fprintln(w, "\nno subscriptions")
		return err
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(subs))
	for _, s := range subs {
		rows = append(rows, []string{s.Filter, fmt.Sprint(s.QoS), fmt.Sprint(s.NoLocal), fmt.Sprint(s.RetainAsPublished),
			fmt.Sprint(s.RetainHandling), fmt.Sprint(s.Identifier)})
	}
	return table(w, []string{"FILTER", "QOS", "NO LOCAL", "RETAIN AS PUBLISHED", "RETAIN HANDLING", "SUB ID"}, rows)
}

func printClient(w io.Writer, data []byte) error {
	var c struct {
		ctlClientItem
		TLS *struct {
			Version     string `json:"version"`
			CipherSuite string `json:"cipher_suite"`
			ServerName  string `json:"server_name"`
			ALPN        string `json:"alpn"`
			PeerSubject string `json:"peer_subject"`
		} `json:"tls"`
		Negotiated    map[string]any    `json:"negotiated"`
		Subscriptions []ctlSubscription `json:"subscriptions"`
		Inflight      int               `json:"inflight"`
		Queued        int               `json:"queued"`
		QueuedBytes   int64             `json:"queued_bytes"`
		OutboundQueue struct {
			Items int   `json:"items"`
			Bytes int64 `json:"bytes"`
		} `json:"outbound_queue"`
		SessionExpiry uint32 `json:"session_expiry"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // negotiated sizes as integers, not 1.048576e+06
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	rows := [][]string{
		{"client id", c.ClientID}, {"username", c.Username}, {"listener", c.Listener + " (" + c.Transport + ")"},
		{"remote", c.RemoteAddr}, {"protocol", "MQTT " + c.Protocol},
		{"connected", c.ConnectedAt.Local().Format(time.DateTime)}, {"keep alive", fmt.Sprintf("%ds", c.KeepAlive)},
		{"session expiry", expiryText(c.SessionExpiry)},
		{"inflight", fmt.Sprint(c.Inflight)}, {"queued", fmt.Sprintf("%d (%d bytes)", c.Queued, c.QueuedBytes)},
		{"outbound queue", fmt.Sprintf("%d (%d bytes)", c.OutboundQueue.Items, c.OutboundQueue.Bytes)},
	}
	if c.Node != "" {
		rows = slices.Insert(rows, 1, []string{"node", c.Node})
	}
	if c.TLS != nil {
		rows = append(rows, []string{"tls", strings.TrimSpace(c.TLS.Version + " " + c.TLS.CipherSuite)},
			[]string{"tls sni", c.TLS.ServerName}, []string{"tls alpn", c.TLS.ALPN})
		if c.TLS.PeerSubject != "" {
			rows = append(rows, []string{"tls client", c.TLS.PeerSubject})
		}
	}
	keys := make([]string, 0, len(c.Negotiated))
	for k := range c.Negotiated {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows = append(rows, []string{strings.ReplaceAll(k, "_", " "), fmt.Sprint(c.Negotiated[k])})
	}
	if err := keyValues(w, rows); err != nil {
		return err
	}
	return printSubscriptions(w, c.Subscriptions)
}

// keyValues writes two aligned columns.
func keyValues(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

type ctlSessionItem struct {
	ClientID      string          `json:"client_id"`
	Connected     bool            `json:"connected"`
	Expiry        uint32          `json:"expiry"`
	Subscriptions json.RawMessage `json:"subscriptions"` // a count in a listing, a list in show
	Inflight      int             `json:"inflight"`
	Queued        int             `json:"queued"`
	Owner         string          `json:"owner"`
	// Node is the cluster node holding the session ("" on a single node).
	Node string `json:"node"`
}

func printSessions(w io.Writer, data []byte) error {
	items, err := decodeItems[ctlSessionItem](data)
	if err != nil {
		return err
	}
	withNode := false // a cluster node's listing: which node holds each
	for _, s := range items {
		withNode = withNode || s.Node != ""
	}
	header := []string{"CLIENT ID", "CONNECTED", "EXPIRY", "SUBSCRIPTIONS", "INFLIGHT", "QUEUED", "OWNER"}
	if withNode {
		header = append([]string{"NODE"}, header...)
	}
	rows := make([][]string, 0, len(items))
	for _, s := range items {
		r := []string{s.ClientID, fmt.Sprint(s.Connected), expiryText(s.Expiry), string(s.Subscriptions),
			fmt.Sprint(s.Inflight), fmt.Sprint(s.Queued), s.Owner}
		if withNode {
			r = append([]string{s.Node}, r...)
		}
		rows = append(rows, r)
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d sessions\n", len(items))
	return err
}

func printSession(w io.Writer, data []byte) error {
	var s struct {
		ctlSessionItem
		QueuedBytes int64 `json:"queued_bytes"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	var subs []ctlSubscription
	if err := json.Unmarshal(s.Subscriptions, &subs); err != nil {
		return fmt.Errorf("decoding subscriptions: %w", err)
	}
	rows := [][]string{
		{"client id", s.ClientID}, {"connected", fmt.Sprint(s.Connected)}, {"owner", s.Owner},
		{"expiry", expiryText(s.Expiry)}, {"inflight", fmt.Sprint(s.Inflight)},
		{"queued", fmt.Sprintf("%d (%d bytes)", s.Queued, s.QueuedBytes)},
	}
	if s.Node != "" {
		rows = slices.Insert(rows, 1, []string{"node", s.Node})
	}
	if err := keyValues(w, rows); err != nil {
		return err
	}
	return printSubscriptions(w, subs)
}

func printRetained(w io.Writer, data []byte) error {
	type item struct {
		Topic       string `json:"topic"`
		QoS         int    `json:"qos"`
		PayloadSize int    `json:"payload_size"`
		Payload     string `json:"payload"`
		Properties  struct {
			ContentType   string  `json:"content_type"`
			MessageExpiry *uint32 `json:"message_expiry"`
		} `json:"properties"`
	}
	items, err := decodeItems[item](data)
	if err != nil {
		return err
	}
	header := []string{"TOPIC", "QOS", "BYTES", "CONTENT TYPE", "EXPIRES IN"}
	withPayload := false
	for _, it := range items {
		withPayload = withPayload || it.Payload != ""
	}
	if withPayload {
		header = append(header, "PAYLOAD (BASE64)")
	}
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		exp := "-"
		if it.Properties.MessageExpiry != nil {
			exp = (time.Duration(*it.Properties.MessageExpiry) * time.Second).String()
		}
		r := []string{it.Topic, fmt.Sprint(it.QoS), fmt.Sprint(it.PayloadSize), it.Properties.ContentType, exp}
		if withPayload {
			r = append(r, it.Payload)
		}
		rows = append(rows, r)
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d retained messages\n", len(items))
	return err
}

func printReload(w io.Writer, data []byte) error {
	var r struct {
		Changed      []string `json:"changed"`
		Applied      []string `json:"applied"`
		NeedsRestart []string `json:"needs_restart"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	if len(r.Changed) == 0 {
		_, err := fmt.Fprintln(w, "reloaded: nothing changed")
		return err
	}
	_, err := fmt.Fprintf(w, "reloaded: changed %s; applied %s\n", strings.Join(r.Changed, ", "), strings.Join(r.Applied, ", "))
	return err
}

func printStatus(w io.Writer, data []byte) error {
	var s struct {
		Version       string    `json:"version"`
		StartedAt     time.Time `json:"started_at"`
		UptimeSeconds int64     `json:"uptime_seconds"`
		Draining      bool      `json:"draining"`
		Listeners     []struct {
			Name, Type, Address string
			Up                  bool
		} `json:"listeners"`
		Counts struct {
			Connections   int64            `json:"connections"`
			Sessions      int              `json:"sessions"`
			Subscriptions int              `json:"subscriptions"`
			Retained      int              `json:"retained"`
			RetainedBytes int64            `json:"retained_bytes"`
			MessagesIn    int64            `json:"messages_in"`
			MessagesOut   int64            `json:"messages_out"`
			Dropped       map[string]int64 `json:"dropped"`
		} `json:"counts"`
		Cluster []struct {
			Name string `json:"name"`
			Up   bool   `json:"up"`
		} `json:"cluster"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	c := s.Counts
	var dropped []string
	for reason, n := range c.Dropped {
		if n > 0 {
			dropped = append(dropped, fmt.Sprintf("%s %d", reason, n))
		}
	}
	sort.Strings(dropped)
	droppedText := "none"
	if len(dropped) > 0 {
		droppedText = strings.Join(dropped, ", ")
	}
	cluster := "single node"
	if len(s.Cluster) > 0 {
		var nodes []string
		for _, n := range s.Cluster {
			state := "up"
			if !n.Up {
				state = "down"
			}
			nodes = append(nodes, n.Name+" ("+state+")")
		}
		cluster = strings.Join(nodes, ", ")
	}
	if err := keyValues(w, [][]string{
		{"version", s.Version},
		{"uptime", (time.Duration(s.UptimeSeconds) * time.Second).String() + " (since " + s.StartedAt.Local().Format(time.DateTime) + ")"},
		{"draining", fmt.Sprint(s.Draining)},
		{"connections", fmt.Sprint(c.Connections)}, {"sessions", fmt.Sprint(c.Sessions)},
		{"subscriptions", fmt.Sprint(c.Subscriptions)},
		{"retained", fmt.Sprintf("%d (%d bytes)", c.Retained, c.RetainedBytes)},
		{"messages", fmt.Sprintf("%d in, %d out", c.MessagesIn, c.MessagesOut)},
		{"dropped", droppedText},
		{"cluster", cluster},
	}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(s.Listeners))
	for _, l := range s.Listeners {
		state := "up"
		if !l.Up {
			state = "down"
		}
		rows = append(rows, []string{l.Name, l.Type, l.Address, state})
	}
	return table(w, []string{"LISTENER", "TYPE", "ADDRESS", "STATE"}, rows)
}
