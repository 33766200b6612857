// Command edgemq runs the edgemq MQTT edge gateway.
//
// Usage:
//
//	edgemq [-c FILE]
//	edgemq --version
//	edgemq passwd [-bcrypt] FILE USER
//	edgemq health [-addr URL]
//	edgemq ctl [--addr URL] [--token TOKEN] [--json] COMMAND (ctl.go)
//	edgemq check [-c FILE]
//	edgemq config [-c FILE]
//
// Without -c it runs with the built-in default configuration
// (configs/edgemq.yaml). SIGINT or SIGTERM shuts it down gracefully.
// SIGHUP reloads the configuration (the same file, or the built-in
// default) without dropping connections; a configuration that is invalid
// or changes what only a restart applies is refused, logged, and the one
// in force stays.
// Exit status: 0 after a clean shutdown, 1 when the gateway fails,
// 2 for bad usage or an invalid configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"

	"edgemq/configs"
	"edgemq/gateway"
	"edgemq/listeners/web"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, stdout, stderr) // passwd.go
	}
	if len(args) > 0 && args[0] == "health" {
		return runHealth(args[1:], stdout, stderr) // health.go
	}
	if len(args) > 0 && args[0] == "ctl" {
		return runCtl(args[1:], os.Stdin, stdout, stderr) // ctl.go
	}
	if len(args) > 0 && args[0] == "check" {
		return runCheck(args[1:], stdout, stderr) // check.go
	}
	if len(args) > 0 && args[0] == "config" {
		return runConfig(args[1:], stdout, stderr) // check.go
	}
	flags := flag.NewFlagSet("edgemq", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var configPath string
	flags.StringVar(&configPath, "c", "", "read the configuration from `FILE` (default: the built-in configs/edgemq.yaml)")
	flags.StringVar(&configPath, "config", "", "same as -c `FILE`")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: edgemq [-c FILE] [--version]\n       edgemq passwd [-bcrypt] FILE USER (see edgemq passwd -h)\n       edgemq health [-addr URL]\n       edgemq ctl [--addr URL] [--token TOKEN] [--json] COMMAND\n       edgemq check [-c FILE]      validate; list every problem\n       edgemq config [-c FILE]     print the effective configuration\n\nedgemq is an MQTT 3.1, 3.1.1 and 5.0 edge gateway.\n\n")
		flags.PrintDefaults()
	}
	if status, stop := parseArgs(flags, args, stderr); stop {
		return status
	}
	if *showVersion {
		fmt.Fprintf(stdout, "edgemq %s\n", buildVersion())
		return 0
	}

	cfg, err := loadConfig(configPath)
	if err != nil {
		fmt.Fprintf(stderr, "edgemq: %v\n", err)
		return 2
	}
	logger, err := newLogger(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "edgemq: %v\n", err)
		return 2
	}
	defer func() { _ = logger.Sync() }()

	if err := serve(cfg, logger, configPath); err != nil {
		logger.Error("edgemq failed", zap.Error(err))
		return 1
	}
	return 0
}

// loadConfig loads the file at path, or the built-in default when path
// is empty.
func loadConfig(path string) (*configs.Config, error) {
	if path == "" {
		return configs.Default()
	}
	return configs.Load(path)
}

// serve runs the gateway until SIGINT or SIGTERM, then shuts it down.
func serve(cfg *configs.Config, logger *zap.Logger, configPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// Restore default signal handling: a second signal kills the
		// process if the graceful shutdown hangs.
		stop()
	}()

	shown := configPath
	if shown == "" {
		shown = "built in"
	}
	logger.Info("edgemq starting", zap.String("version", buildVersion()), zap.String("config", shown))
	// The diagnostic page is served by ws/wss listeners with
	// websocket.page: true.
	srv, err := gateway.NewContext(ctx, cfg, logger, gateway.WithPage(web.Handler()),
		gateway.WithConfigLoader(func() (*configs.Config, error) { return loadConfig(configPath) }))
	if err != nil {
		return fmt.Errorf("starting gateway: %w", err)
	}
	srv.SetVersion(buildVersion())
	go tuneGC(ctx, cfg, logger) // gctune.go
	stopReload := reloadOnHangup(ctx, srv, logger)
	defer stopReload()
	if err := srv.Run(ctx); err != nil {
		return fmt.Errorf("running gateway: %w", err)
	}
	logger.Info("edgemq stopped")
	return nil
}

// reloadOnHangup reloads the configuration on each SIGHUP until ctx ends
// or stop is called; stop waits for a reload in progress. The gateway logs
// what changed or why it refused; the process keeps running either way.
func reloadOnHangup(ctx context.Context, srv *gateway.Server, logger *zap.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			res, err := srv.ReloadConfig(ctx)
			logger.Info("sighup handled", zap.Bool("reloaded", err == nil), zap.Int("changed", len(res.Changed)),
				zap.Strings("needs_restart", res.NeedsRestart))
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

// buildVersion returns version when set with -ldflags, else the main
// module version recorded by the go command (e.g. by go install), else
// "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// parseArgs parses args with flags, a command that takes no positional
// argument. stop is true when the command must end with status: 0 after
// -h, 2 for bad usage (reported on stderr).
func parseArgs(flags *flag.FlagSet, args []string, stderr io.Writer) (status int, stop bool) {
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", flags.Name(), flags.Arg(0))
		flags.Usage()
		return 2, true
	}
	return 0, false
}
