package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// defaultHealthAddr is the ops listener's /healthz in the Docker image
// (configs/examples/docker.yaml, ops.address 0.0.0.0:9090).
const defaultHealthAddr = "http://127.0.0.1:9090/healthz"

// runHealth is "edgemq health [-addr URL] [-timeout D]": GET the ops
// listener's /healthz; exit status 0 on 200, 1 otherwise, 2 for bad
// usage. It exists for container health checks in images that have no
// shell or curl (distroless).
func runHealth(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("edgemq health", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", defaultHealthAddr, "the `URL` to check, or host:port of the ops listener (then /healthz is asked)")
	timeout := flags.Duration("timeout", 5*time.Second, "give up after `D`")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: edgemq health [-addr URL] [-timeout D]\n\nChecks the ops listener's /healthz: exit status 0 when it answers 200, else 1.\n\n")
		flags.PrintDefaults()
	}
	if status, stop := parseArgs(flags, args, stderr); stop { // main.go
		return status
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := checkHealth(ctx, healthURL(*addr)); err != nil {
		fmt.Fprintf(stderr, "edgemq health: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// healthURL turns host:port into its /healthz URL; a URL is kept.
func healthURL(addr string) string {
	if strings.Contains(addr, "://") {
		return addr
	}
	return "http://" + addr + "/healthz"
}

// checkHealth GETs url and reports an error unless it answers 200.
func checkHealth(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	// No proxy from the environment: the check is of this host's
	// listener.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("checking %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("checking %s: %s", url, resp.Status)
	}
	return nil
}
