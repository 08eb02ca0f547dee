package roles

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/scorer"
)

// RunFunc runs a configured role until ctx ends.
type RunFunc func(ctx context.Context, s cli.Servers, log *slog.Logger) error

// Role describes a role's command line: its flags, and how validated flags become a RunFunc.
type Role struct {
	Name        string
	DefaultHTTP string
	// DefaultAPI is the default --api address for roles that serve an API; empty registers no
	// --api flag (ingest serves only the operator endpoints).
	DefaultAPI string
	Register   func(fs *flag.FlagSet)
	// Prepare validates the role's flags into options; its error stops the program at start.
	Prepare func(brokers []string) (RunFunc, error)
	// LatencyGC runs the role with GCPercent (see scorer.TuneGC): for roles that answer per event or
	// per request, not for the retrainer, whose refits would only hold more heap.
	LatencyGC bool
}

// Configured is a role whose flags parsed and validated.
type Configured struct {
	Run       RunFunc
	Servers   cli.Servers
	Log       *slog.Logger
	CheckOnly bool // --check-config: validate only
}

// Parse parses and validates every flag (the shared --kafka, --redis, --http, --log-level and
// --check-config, --api and its limits for a role with an API, then the role's own). It returns the configured role and whether only a
// configuration check was asked for. Errors are usage errors: they say what to fix.
func (r Role) Parse(args []string) (*Configured, error) {
	fs := flag.NewFlagSet(r.Name, flag.ContinueOnError)
	var s cli.Servers
	s.Register(fs, r.DefaultHTTP)
	if r.DefaultAPI != "" {
		s.RegisterAPI(fs, r.DefaultAPI)
	}
	r.Register(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	check := fs.Bool("check-config", false, "validate flags and environment, then exit")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	cluster, err := s.Cluster()
	if err != nil {
		return nil, err
	}
	brokers := cluster.Brokers
	rdb, err := NewRedisAuth(s.Redis, s.RedisAuth) // validates; connects lazily
	if err != nil {
		return nil, err
	}
	rdb.Close()
	if err := s.CheckServers(); err != nil {
		return nil, err
	}
	run, err := r.Prepare(brokers)
	if err != nil {
		return nil, err
	}
	log, err := NewLogger(*logLevel)
	if err != nil {
		return nil, err
	}
	return &Configured{Run: run, Servers: s, Log: log, CheckOnly: *check}, nil
}

// Main is a role binary's main: it parses the command line, prints "configuration ok" for
// --check-config, and otherwise runs the role until SIGINT or SIGTERM, draining; a second signal
// exits at once.
func Main(r Role) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := r.Main(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", r.Name, err)
		os.Exit(1)
	}
}

// Main is Main with its context, arguments and output given, for the all-in-one binary's verbs.
func (r Role) Main(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := r.Parse(args)
	if err != nil {
		return err
	}
	if c.CheckOnly {
		fmt.Fprintln(stdout, "configuration ok")
		return nil
	}
	if r.LatencyGC {
		scorer.TuneGC()
	}
	go func() {
		<-ctx.Done()
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		os.Exit(130)
	}()
	return c.Run(ctx, c.Servers, c.Log)
}

// Ingest is the ingest role's command line.
func Ingest() Role {
	var f IngestFlags
	return Role{Name: "ingest", DefaultHTTP: ":9101", LatencyGC: true, Register: f.Register, Prepare: func(brokers []string) (RunFunc, error) {
		o, err := f.Options(brokers)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, s cli.Servers, log *slog.Logger) error { return RunIngest(ctx, s, o, log) }, nil
	}}
}

// Scorer is the scorer role's command line.
func Scorer() Role {
	var f ScorerFlags
	return Role{Name: "scorer", DefaultHTTP: ":9102", DefaultAPI: ":8080", LatencyGC: true, Register: f.Register, Prepare: func(brokers []string) (RunFunc, error) {
		o, err := f.Options(brokers)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, s cli.Servers, log *slog.Logger) error { return RunScorer(ctx, s, o, log) }, nil
	}}
}

// sharedFlags copies, after parsing, the values of flags another role registered first: in the
// all-in-one binary ingest, the scorer and the retrainer share --windows and the topics between
// them, and each role's options read its own field.
type sharedFlags []func()

// stringVar registers a string flag on fs, or, when fs has it already, copies its value into p
// at copy.
func (s *sharedFlags) stringVar(fs *flag.FlagSet, p *string, name, def, usage string) {
	if fl := fs.Lookup(name); fl != nil {
		*s = append(*s, func() { *p = fl.Value.String() })
		return
	}
	fs.StringVar(p, name, def, usage)
}

// durationVar is stringVar for a duration flag; the first registration parsed and validated
// the shared value.
func (s *sharedFlags) durationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	if fl := fs.Lookup(name); fl != nil {
		*s = append(*s, func() { *p, _ = time.ParseDuration(fl.Value.String()) })
		return
	}
	fs.DurationVar(p, name, def, usage)
}

// copy sets every shared flag's field.
func (s sharedFlags) copy() {
	for _, copyValue := range s {
		copyValue()
	}
}
