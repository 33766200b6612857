package main

// edgemq check and edgemq config: a configuration file checked, or
// printed as the gateway would run it.

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"edgemq/configs"
)

// configFlags parses `-c FILE` (or --config) for check and config;
// stop is true when the command must end with status.
func configFlags(name, usage string, args []string, stderr io.Writer) (path string, status int, stop bool) {
	flags := flag.NewFlagSet("edgemq "+name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&path, "c", "", "the configuration `FILE` (default: the built-in configs/edgemq.yaml)")
	flags.StringVar(&path, "config", "", "same as -c `FILE`")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: edgemq %s [-c FILE]\n\n%s\n\n", name, usage)
		flags.PrintDefaults()
	}
	status, stop = parseArgs(flags, args, stderr)
	return path, status, stop
}

// runCheck is `edgemq check [-c FILE]`: it validates the file and lists
// every problem, one a line as FILE:LINE: key.path: reason. Exit status
// 0 when valid, 1 when not, 2 for bad usage.
func runCheck(args []string, stdout, stderr io.Writer) int {
	path, status, stop := configFlags("check", "Validates the configuration and lists every problem in it.\nExit status: 0 valid, 1 invalid, 2 bad usage.", args, stderr)
	if stop {
		return status
	}
	name := path
	if name == "" {
		name = configs.DefaultName
	}
	_, err := loadConfig(path)
	if err == nil {
		fmt.Fprintf(stdout, "%s: ok\n", name)
		return 0
	}
	var ce *configs.Error
	if !errors.As(err, &ce) {
		fmt.Fprintf(stderr, "edgemq check: %v\n", err)
		return 1
	}
	for _, p := range ce.Problems {
		if p.Line > 0 {
			fmt.Fprintf(stdout, "%s:%d: %s\n", ce.File, p.Line, p)
		} else {
			fmt.Fprintf(stdout, "%s: %s\n", ce.File, p)
		}
	}
	noun := "problems"
	if len(ce.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(stderr, "edgemq check: %s: %d %s\n", ce.File, len(ce.Problems), noun)
	return 1
}

// runConfig is `edgemq config [-c FILE]`: it prints the effective
// configuration, every key with the value in force (defaults included),
// secrets redacted. Exit status 0, 1 when the file is invalid (its
// problems on stderr), 2 for bad usage.
func runConfig(args []string, stdout, stderr io.Writer) int {
	path, status, stop := configFlags("config", "Prints the effective configuration (defaults included, secrets redacted).", args, stderr)
	if stop {
		return status
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "edgemq config: %v\n", err)
		return 1
	}
	out, err := cfg.RedactedYAML()
	if err != nil {
		fmt.Fprintf(stderr, "edgemq config: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "edgemq config: writing: %v\n", err)
		return 1
	}
	return 0
}
