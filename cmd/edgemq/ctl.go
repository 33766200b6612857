package main

// edgemq ctl: the admin API from the command line (ctl_cmds.go has the
// subcommands, ctl_output.go the tables).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Exit statuses of edgemq ctl.
const (
	ctlOK          = 0 // done
	ctlError       = 1 // the gateway refused the request (400, 409, 422, 5xx) or another error
	ctlUsage       = 2 // bad usage: unknown command or flag, missing argument
	ctlNotFound    = 3 // no such client, session or retained message (404)
	ctlAuthRefused = 4 // missing or wrong token (401)
	ctlUnreachable = 5 // no admin API at the address (connection refused, timeout, not HTTP)
)

// defaultCtlAddr is the admin address when neither --addr nor EDGEMQ_ADDR
// is given: the README's example admin.address.
const defaultCtlAddr = "http://127.0.0.1:9091"

const ctlUsageText = `Usage: edgemq ctl [--addr URL] [--token TOKEN | --token-file FILE] [--json] COMMAND [ARGS]

Calls the admin API (admin.address in the configuration). The address
and token come from --addr and --token (or --token-file), else from the
EDGEMQ_ADDR and EDGEMQ_TOKEN environment variables; the address defaults
to ` + defaultCtlAddr + `. Output is a table, or the API's JSON with --json.

Commands:
  status                                   version, uptime, listeners, counts, cluster
  clients [list] [--listener L] [--transport T] [--username U]
          [--client-id PREFIX] [--protocol 3.1|3.1.1|5.0]
          [--scope node|cluster]           cluster: every node's clients, with
                                           their node, and the nodes that did
                                           not answer
  clients show ID [--scope node|cluster]   one client: TLS, limits, subscriptions, queues
  clients kick ID [--reason CODE] [--scope node|cluster]
                                           disconnect (v5: DISCONNECT CODE, default 0x98)
                                           show and kick: --scope node (the
                                           default) this node's client only;
                                           cluster: the client on any node,
                                           forwarded to its node, which answers
  sessions [list] [--client-id PREFIX] [--connected true|false]
  sessions show ID [--scope node|cluster]  one session, connected or offline
  sessions delete ID [--scope node|cluster]
                                           kick if connected, then discard the session
                                           show and delete: --scope node (the
                                           default) this node's session only;
                                           cluster: the session on any node,
                                           forwarded to the node holding it,
                                           which answers
  retained [list] [--filter FILTER] [--payload]
  retained delete TOPIC
  publish [--qos N] [--retain] [--content-type T] [--expiry SECONDS]
          [--user-property KEY=VALUE]... [--base64] TOPIC PAYLOAD
                                           publish as $admin (PAYLOAD - reads stdin)
  reload                                   reload the configuration file
  drain                                    drain gracefully; the gateway then exits

Flags may come before or after the command and its arguments.

Exit status: 0 done, 1 refused by the gateway or other error, 2 bad
usage, 3 not found, 4 token refused, 5 admin API unreachable.
`

// ctlEnv are the settings shared by every subcommand.
type ctlEnv struct {
	addr, token, tokenFile string
	json                   bool
	stdin                  io.Reader
	stdout, stderr         io.Writer
}

// register adds the shared flags to fs, so that they may follow the
// command too.
func (e *ctlEnv) register(fs *flag.FlagSet) {
	fs.StringVar(&e.addr, "addr", e.addr, "admin API `URL` (env EDGEMQ_ADDR)")
	fs.StringVar(&e.token, "token", e.token, "bearer `TOKEN` (env EDGEMQ_TOKEN)")
	fs.StringVar(&e.tokenFile, "token-file", e.tokenFile, "read the token from `FILE`")
	fs.BoolVar(&e.json, "json", e.json, "print the API's JSON instead of a table")
}

// ctlExit is an error with the exit status it ends ctl with.
type ctlExit struct {
	status int
	err    error
}

func (e *ctlExit) Error() string { return e.err.Error() }
func (e *ctlExit) Unwrap() error { return e.err }

// usageErr is a usage error (exit 2).
func usageErr(format string, args ...any) error {
	return &ctlExit{status: ctlUsage, err: fmt.Errorf(format, args...)}
}

// runCtl is `edgemq ctl`; it returns the exit status.
func runCtl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &ctlEnv{addr: os.Getenv("EDGEMQ_ADDR"), token: os.Getenv("EDGEMQ_TOKEN"), stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("edgemq ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env.register(fs)
	fs.Usage = func() { fmt.Fprint(fs.Output(), ctlUsageText) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ctlOK
		}
		return ctlUsage
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		fs.Usage()
		if fs.NArg() == 0 {
			return ctlUsage
		}
		return ctlOK
	}
	err := dispatchCtl(env, fs.Arg(0), fs.Args()[1:]) // ctl_cmds.go
	if err == nil {
		return ctlOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ctlOK
	}
	status := ctlError
	var ce *ctlExit
	if errors.As(err, &ce) {
		status = ce.status
	}
	if err.Error() != "" {
		fmt.Fprintf(stderr, "edgemq ctl: %v\n", err)
	}
	if status == ctlUsage {
		fmt.Fprintln(stderr, "Run 'edgemq ctl -h' for usage.")
	}
	return status
}

// parseCmd parses a subcommand's flags and positional arguments, which
// may be interleaved; it wants exactly npos positional arguments, named
// in want for the error.
func parseCmd(env *ctlEnv, name string, args []string, setup func(*flag.FlagSet), want ...string) ([]string, error) {
	fs := flag.NewFlagSet("edgemq ctl "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	env.register(fs)
	if setup != nil {
		setup(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: edgemq ctl %s", name)
		for _, w := range want {
			fmt.Fprintf(fs.Output(), " %s", w)
		}
		fmt.Fprintln(fs.Output(), " [flags]")
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &ctlExit{status: ctlUsage, err: errors.New("")}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(want) {
		if len(pos) < len(want) {
			return nil, usageErr("%s: missing %s", name, strings.Join(want[len(pos):], " "))
		}
		return nil, usageErr("%s: unexpected argument %q", name, pos[len(want)])
	}
	return pos, nil
}

// ctlClient calls the admin API.
type ctlClient struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// client builds the API client from the settings.
func (e *ctlEnv) client() (*ctlClient, error) {
	addr := e.addr
	if addr == "" {
		addr = defaultCtlAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--addr %q is not an http(s) URL or host:port", e.addr)
	}
	token := e.token
	if e.tokenFile != "" {
		b, err := os.ReadFile(e.tokenFile)
		if err != nil {
			return nil, usageErr("reading --token-file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, usageErr("no token: pass --token or --token-file, or set EDGEMQ_TOKEN")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &ctlClient{base: u, token: token, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends method path (relative to /api/v1, with its query) with body
// encoded as JSON unless nil, and returns the answer's body. An answer
// other than 2xx, or no answer, is a *ctlExit with its status.
func (c *ctlClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+"/api/v1"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("making request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &ctlExit{status: ctlUnreachable, err: fmt.Errorf("reaching the admin API at %s: %w", c.base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &ctlExit{status: ctlUnreachable, err: fmt.Errorf("reading the answer of %s: %w", c.base, err)}
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var apiErr struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &apiErr) == nil && apiErr.Error != "" {
		msg = apiErr.Error
	}
	status := ctlError
	switch resp.StatusCode {
	case http.StatusNotFound:
		status = ctlNotFound
	case http.StatusUnauthorized:
		status = ctlAuthRefused
		msg += " (check --token or EDGEMQ_TOKEN)"
	}
	return nil, &ctlExit{status: status, err: fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, http.StatusText(resp.StatusCode), msg)}
}

// unwrapURLError drops the *url.Error wrapper, which repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var op *net.OpError
		if errors.As(ue.Err, &op) {
			return op
		}
		return ue.Err
	}
	return err
}

// escapeSegment escapes an id or topic as one path segment: / as %2F,
// and a whole "." or ".." as %2E (the admin API refuses dot segments).
func escapeSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}
