// Command segstream is the all-in-one binary: every role in one process, a development broker,
// data-set replays, exports and offline analyses, each as a verb.
//
//	segstream broker    --listen ADDR [--data-dir DIR]
//	segstream replay    --kafka ADDRS --preset NAME --file PATH [--rate N] [--wait]
//	segstream export    features --redis ADDR --as-of TIME --out PATH
//	segstream analyze   segmentation|incidence|brand-choice|quantity|conversion|clv|rfm ...
//	segstream bench     ingest ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// verb is one sub-command. args excludes the verb itself.
type verb struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

// verbs is filled by each verb's file in init, so verbs live in files of their own.
var verbs = map[string]verb{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	if _, dup := verbs[name]; dup {
		panic("segstream: verb registered twice: " + name)
	}
	verbs[name] = verb{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: segstream <verb> [flags]")
	fmt.Fprintln(w, "verbs:")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, verbs[n].summary)
	}
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "demo"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(stdout)
		return 0
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(stderr, "segstream: unknown verb %q\n", name)
		usage(stderr)
		return 2
	}
	if err := v.run(ctx, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "segstream %s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks a bad flag or argument: exit status 2 (a wrapped flag.ErrHelp still exits 0).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// badUsage wraps err as a usage error.
func badUsage(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }
