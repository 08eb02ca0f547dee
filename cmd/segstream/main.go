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
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/segstream/segstream/internal/app/cli"
)

// runFunc is what a command does once its flags are parsed.
type runFunc func(ctx context.Context, stdout io.Writer) error

// command is a verb or a sub-verb. A leaf declares its flags on fs and returns what runs once
// they are parsed (flags), so parsing, --help, environment fallbacks and the usage errors are
// written once, here; a verb with sub-verbs has subs; a raw command parses its own arguments
// (the roles share their flag sets with their binaries).
type command struct {
	summary string
	args    string // the positional arguments a leaf takes, for its usage line; "" takes none
	example string // a command line that runs from the repository root, shown by --help
	flags   func(fs *flag.FlagSet) runFunc
	raw     func(ctx context.Context, args []string, stdout io.Writer) error
	subs    map[string]*command
}

// verbs is filled in init by analyze.go (the analyses), processes.go (the long-running
// processes: demo, broker, replay, scorer) and tools.go (bundle, export, bench).
var verbs = map[string]*command{}

// register adds the verb path (a verb, or "verb sub") and returns it; a verb with sub-verbs is
// registered by its sub-verbs, and once with its own summary and no flags.
func register(path, summary string, flags func(fs *flag.FlagSet) runFunc) *command {
	names := strings.Fields(path)
	m := verbs
	var c *command
	for i, n := range names {
		c = m[n]
		if c == nil {
			c = &command{}
			m[n] = c
		}
		if i < len(names)-1 {
			if c.subs == nil {
				c.subs = map[string]*command{}
			}
			m = c.subs
		}
	}
	if summary != "" {
		c.summary = summary
	}
	c.flags = flags
	return c
}

// registerRaw adds a command that parses its own arguments.
func registerRaw(path, summary string, raw func(ctx context.Context, args []string, stdout io.Writer) error) {
	register(path, summary, nil).raw = raw
}

func sortedNames(m map[string]*command) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func listCommands(w io.Writer, path string, m map[string]*command) {
	fmt.Fprintf(w, "usage: %s <verb> [flags]\n", path)
	fmt.Fprintln(w, "verbs:")
	for _, n := range sortedNames(m) {
		fmt.Fprintf(w, "  %-13s %s\n", n, m[n].summary)
	}
	fmt.Fprintf(w, "\n%s <verb> --help prints a verb's flags.\n", path)
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "--help" || arg == "-help"
}

// dispatch runs c, named path, on args.
func dispatch(ctx context.Context, path string, c *command, args []string, stdout io.Writer) error {
	switch {
	case c.subs != nil:
		names := strings.Join(sortedNames(c.subs), ", ")
		if len(args) == 0 {
			return badUsage("%s: needs a sub-verb: one of %s (%s --help lists them)", path, names, path)
		}
		if isHelp(args[0]) {
			listCommands(stdout, path, c.subs)
			return flag.ErrHelp
		}
		sub, ok := c.subs[args[0]]
		if !ok {
			return badUsage("%s: unknown sub-verb %q: one of %s", path, args[0], names)
		}
		return dispatch(ctx, path+" "+args[0], sub, args[1:], stdout)
	case c.raw != nil:
		if err := c.raw(ctx, args, stdout); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once by main
	run := c.flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "%s: %s\n\n", path, c.summary)
			if c.args != "" {
				fmt.Fprintf(stdout, "usage: %s [flags] %s\n", path, c.args)
			}
			fs.Usage()
			if c.example != "" {
				fmt.Fprintf(stdout, "\nexample, from the repository root:\n  %s\n", c.example)
			}
			return err
		}
		return badUsage("%s: %w (%s --help lists the flags)", path, err, path)
	}
	resolveDataFiles(fs)
	if c.args == "" && fs.NArg() > 0 {
		return badUsage("%s: unexpected argument %q: it takes flags only (%s --help lists them)", path, fs.Arg(0), path)
	}
	if err := run(ctx, stdout); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w (a relative input file is also looked for under %s; set SEGSTREAM_DATA to the data directory)", path, err, dataDir())
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// dataFileFlags are the flags that name an input data file.
var dataFileFlags = []string{"file", "edges", "from-transactions"}

// resolveDataFiles points each input-file flag that names a relative path not found as given
// at the same path under the data directory, when it is there: so "customer_analytics_365/
// segmentation data.csv", as the helps show it, works from the repository root.
// A file found in neither place is left as given: opening it fails at run time (exit 1) with
// a hint saying where else it was looked for.
func resolveDataFiles(fs *flag.FlagSet) {
	for _, name := range dataFileFlags {
		if f := fs.Lookup(name); f != nil && f.Value.String() != "" {
			_ = f.Value.Set(dataFile(f.Value.String()))
		}
	}
}

func dataDir() string {
	return cmp.Or(os.Getenv("SEGSTREAM_DATA"), filepath.Join("..", "shared", "data"))
}

// dataFile is p when it exists, is absolute or is not under the data directory ($SEGSTREAM_DATA,
// default ../shared/data) either; else the path under the data directory.
func dataFile(p string) string {
	if _, err := os.Stat(p); err == nil || filepath.IsAbs(p) {
		return p
	}
	if q := filepath.Join(dataDir(), p); fileExists(q) {
		return q
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		listCommands(stdout, "segstream", verbs)
		fmt.Fprintln(stdout, "With no verb, segstream runs the demo (segstream demo --help).")
		return 0
	}
	name := "demo"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(stderr, "segstream: unknown verb %q\n", name)
		listCommands(stderr, "segstream", verbs)
		return 2
	}
	if err := dispatch(ctx, "segstream "+name, v, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%v\n", err)
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
