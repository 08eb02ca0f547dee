// Package demo runs every role in one process, on an embedded Kafka-protocol broker and an
// embedded Redis unless told to use real ones, feeds it generated shoppers or a replayed data set,
// and prints a live summary: `segstream` with no verb.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gdamore/tcell/v2"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/embedded/devbroker"
	"github.com/segstream/segstream/embedded/redisproc"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
)

// Options are the demo's settings, validated by the caller.
type Options struct {
	Kafka          string   // empty starts an embedded broker
	Brokers        []string // Kafka, parsed; unused when Kafka is empty
	Redis          string   // empty starts redis-server if installed, else an in-process Redis
	HTTP           string   // /metrics of every role, /healthz and /readyz
	API            cli.Servers
	BootstrapAfter int // customers with features before the first fit; 0: no retrainer
	RefitInterval  time.Duration
	DataDir        string          // the embedded broker's log (and redis-server's AOF)
	Preset         datasets.Preset // with ReplayPath: replay this data set instead of generated shoppers
	ReplayPath     string
	Customers      int     // generated shoppers
	Rate           float64 // generated events per second while replaying history
	// LiveRate is generated events per second after the history, stamped with the wall clock
	// (0: the shoppers' own pace in real time, a trickle for a few thousand of them).
	LiveRate float64
	History  time.Duration
	Seed     uint64
	Quiet    bool // no live summary
}

// Run runs the demo until ctx ends (or, on a terminal, the user presses q); a clean stop
// returns nil.
func Run(ctx context.Context, o Options, stdout io.Writer) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	started := time.Now()
	// On a terminal the live view owns the screen: the roles' warnings go to a file in the
	// data directory instead of over it.
	out, isFile := stdout.(*os.File)
	live := !o.Quiet && isFile && term.IsTerminal(int(out.Fd()))
	logFile := "stderr"
	var logOut io.Writer = os.Stderr
	if live {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", o.DataDir, err)
		}
		logFile = filepath.Join(o.DataDir, "demo.log")
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening %s: %w", logFile, err)
		}
		defer f.Close()
		logOut = f
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	scorer.TuneGC() // the read API and the dashboard answer from this process

	// The broker's log and Redis must survive a restart together, or a fresh Redis would miss
	// what the group already committed: redis-server keeps an AOF beside the broker's log, and
	// with the in-process Redis (which keeps nothing) the old log is cleared.
	embeddedRedis := o.Redis == ""
	if o.Kafka == "" && embeddedRedis && !redisproc.Available() {
		if err := os.RemoveAll(o.DataDir); err != nil {
			return fmt.Errorf("clearing %s: %w", o.DataDir, err)
		}
	}
	brokers := o.Brokers
	if o.Kafka == "" {
		br, err := devbroker.Start(devbroker.Options{DataDir: o.DataDir})
		if err != nil {
			return err
		}
		defer br.Close()
		brokers = br.Addrs()
		fmt.Fprintf(stdout, "embedded Kafka-protocol broker on %s (log in %s)\n", brokers[0], o.DataDir)
	}
	redisAddr := o.Redis
	if redisAddr == "" {
		if redisproc.Available() {
			dir := filepath.Join(o.DataDir, "redis")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", dir, err)
			}
			p, err := redisproc.Start(ctx, redisproc.Options{Dir: dir, Extra: append([]string{"--appendonly", "yes"}, redisproc.ListpackHashes...)})
			if err != nil {
				return err
			}
			defer p.Close()
			redisAddr = p.Addr
			fmt.Fprintf(stdout, "redis-server child on %s\n", redisAddr)
		} else {
			m := miniredis.NewMiniRedis()
			if err := m.Start(); err != nil {
				return fmt.Errorf("starting in-process redis: %w", err)
			}
			defer m.Close()
			redisAddr = m.Addr()
			fmt.Fprintf(stdout, "in-process Redis (miniredis) on %s; install redis-server for real speed\n", redisAddr)
		}
	}
	rdb, err := roles.NewRedis(redisAddr)
	if err != nil {
		return err
	}
	defer rdb.Close()

	f := roles.IngestFlags{Topic: stream.DefaultEventsTopic, Group: stream.DefaultIngestGroup, FeaturesTopic: stream.DefaultFeaturesTopic,
		DLQTopic: stream.DefaultDLQTopic, SamplesTopic: stream.DefaultSamplesTopic, Samples: true, BatchSize: 500, Linger: 5 * time.Millisecond, DrainTimeout: 10 * time.Second,
		MaxFuture: 24 * time.Hour, Windows: "30,90,365", DedupWindow: 1024, SampleShare: 1}
	io_, err := f.Options(brokers)
	if err != nil {
		return err
	}
	sf := roles.ScorerFlags{FeaturesTopic: stream.DefaultFeaturesTopic, Group: stream.DefaultScorerGroup,
		ScoresTopic: stream.DefaultScoresTopic, ChangesTopic: stream.DefaultChangesTopic, BatchSize: 1000,
		Linger: 2 * time.Millisecond, DrainTimeout: 10 * time.Second, Poll: 5 * time.Second, SweepRate: 2000, AgeStep: time.Hour, Windows: f.Windows}
	so, err := sf.Options(brokers)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dashboard http://%s/ (read API under /v1), metrics http://%s/metrics\n", o.API.API, o.HTTP)
	if !live {
		fmt.Fprintln(stdout, "Ctrl-C stops everything")
	}

	var published atomic.Int64
	caughtUp := make(chan struct{}) // closed when the history is published
	g, gctx := errgroup.WithContext(ctx)
	rs := roles.Roles{Ingest: &io_, Scorer: &so}
	if o.BootstrapAfter > 0 {
		rf := roles.RetrainerFlags{SamplesTopic: stream.DefaultSamplesTopic, Windows: f.Windows, Interval: o.RefitInterval,
			DriftInterval: 30 * time.Second, DriftThreshold: 0.25, MinInterval: o.RefitInterval, MaxRows: 500000, MaxSamples: 500000,
			Horizon: 30 * 24 * time.Hour, KMin: 2, KMax: 6, Seed: 1, LockTTL: 15 * time.Second,
			MinShare: retrainer.DefaultGates.MinShare, MaxMoved: retrainer.DefaultGates.MaxMoved,
			MinSilhouette: retrainer.DefaultGates.MinSilhouette, MinAUC: retrainer.DefaultGates.MinAUC}
		ro, err := rf.Options(brokers)
		if err != nil {
			return err
		}
		// A model fitted on half-replayed history would see every customer as lapsed: the first
		// refit waits until ingest has committed the history.
		ingested := make(chan struct{})
		g.Go(func() error {
			waitIngested(gctx, brokers, caughtUp)
			close(ingested)
			return nil
		})
		ro.Start, ro.MinRows = ingested, o.BootstrapAfter
		ro.OnRefit = func(st retrainer.RunStatus) {
			if live {
				return // the view lists the refits
			}
			switch st.Result {
			case "promoted":
				fmt.Fprintf(stdout, "\nretrainer: promoted model v%d (%d segments, %d customers, %d samples, %s trigger); report at http://%s/report\n",
					st.Version, st.K, st.Rows, st.Samples, st.Trigger, o.API.API)
			case "refused", "failed":
				fmt.Fprintf(stdout, "\nretrainer: refit v%d %s: %s\n", st.Version, st.Result, strings.Join(st.Reasons, "; "))
			}
		}
		rs.Retrainer = &ro
	}
	g.Go(func() error {
		srv := o.API
		srv.Redis = redisAddr
		return roles.RunRoles(gctx, srv, rs, log)
	})
	g.Go(func() error {
		w := stream.NewWriter(brokers, stream.DefaultEventsTopic, stream.WriterOptions{})
		defer w.Close()
		if o.ReplayPath != "" {
			return demoReplay(gctx, w, o.Preset, o.ReplayPath, &published, caughtUp)
		}
		return demoGenerate(gctx, w, o, &published, caughtUp)
	})
	if !o.Quiet {
		st := features.NewStore(rdb, features.Config{})
		status := func() statusLine {
			clock := "not yet"
			if ms, ok, err := st.Clock(gctx); err == nil && ok {
				clock = time.UnixMilli(ms).Local().Format("2006-01-02 15:04")
			}
			return statusLine{up: time.Since(started), published: published.Load(), clock: clock, api: o.API.API, logFile: logFile}
		}
		p := newPoller(o.API.API)
		g.Go(func() error {
			if !live {
				logView(gctx, stdout, p, status)
				return nil
			}
			screen, err := tcell.NewScreen()
			if err != nil {
				return fmt.Errorf("terminal: %w", err)
			}
			return liveView(gctx, screen, p, status, stop)
		})
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		fmt.Fprintln(stdout, "\nstopped cleanly")
		return nil
	}
	return err
}

// waitIngested returns once the history is published (caughtUp) and the ingest group has
// committed every event of it, or at most a minute after publishing ended (live generated
// events keep a small lag).
func waitIngested(ctx context.Context, brokers []string, caughtUp <-chan struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-caughtUp:
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		lag, err := stream.GroupLag(ctx, brokers, stream.DefaultIngestGroup, stream.DefaultEventsTopic)
		total := int64(0)
		for _, l := range lag {
			total += l
		}
		if err == nil && len(lag) > 0 && total == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func demoReplay(ctx context.Context, w *kafka.Writer, p datasets.Preset, path string, published *atomic.Int64, done chan<- struct{}) error {
	var batch []kafka.Message
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		published.Add(int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	_, err := datasets.ReadFile(ctx, p, path, func(ev stream.Event) error {
		b, err := json.Marshal(&ev)
		if err != nil {
			return err
		}
		batch = append(batch, kafka.Message{Key: []byte(ev.Key()), Value: b})
		if len(batch) == 2000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	close(done)
	<-ctx.Done()
	return ctx.Err()
}

// Live traffic after the history (Options.LiveRate): a burst of burstFactor times the rate for
// burstLength every burstEvery, and brand prices priceStep higher from priceAfter on, so the
// dashboard and the terminal view show rates that move, segment changes, drift and a refit
// within the first minutes.
const (
	burstEvery  = 3 * time.Minute
	burstLength = 15 * time.Second
	burstFactor = 5
	priceAfter  = 4 * time.Minute
	priceStep   = 1.15
)

// liveRate is the events per second to generate at elapsed time since the history caught up.
func liveRate(rate float64, elapsed time.Duration) float64 {
	if elapsed%burstEvery >= burstEvery-burstLength {
		return rate * burstFactor
	}
	return rate
}

// demoGenerate publishes a year of generated history at --rate, then keeps the shoppers
// shopping: at LiveRate events a second stamped with the wall clock, or at their own pace.
func demoGenerate(ctx context.Context, w *kafka.Writer, o Options, published *atomic.Int64, caughtUp chan<- struct{}) error {
	gen := shoppers.New(o.Seed, o.Customers, time.Now().Add(-o.History))
	// One visit in ten comes with an interaction inside the shopper's circle (docs/demo.md):
	// the network endpoint and the graph features have something to show.
	gen.Interactions = 0.1
	// Three media channels spend weekly with planted carry-over and saturation that lift the
	// shoppers' visits (docs/demo.md): GET /v1/mix has a mix to recover.
	gen.Media = shoppers.DefaultMedia
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, int(o.Rate/20))
	var evs []stream.Event
	var batch []kafka.Message
	closed := false
	var liveSince time.Time
	owed := 0.0 // live events due but not yet generated
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		batch = batch[:0]
		if closed && o.LiveRate > 0 {
			elapsed := time.Since(liveSince)
			if elapsed >= priceAfter {
				gen.PriceFactor = priceStep
			}
			owed += liveRate(o.LiveRate, elapsed) / 20
			now := time.Now()
			for ; owed >= 1; owed-- {
				evs = gen.Next(evs[:0])
				for i := range evs {
					evs[i].TS = now // the shoppers' pace, compressed into the wall clock
					b, _ := json.Marshal(&evs[i])
					batch = append(batch, kafka.Message{Key: []byte(evs[i].Key()), Value: b})
				}
			}
		}
		for len(batch) < perTick && (!closed || o.LiveRate == 0) {
			if gen.Now().After(time.Now()) {
				// Caught up with the clock: from here on, shoppers shop in real time.
				if !closed {
					close(caughtUp)
					closed, liveSince = true, time.Now()
				}
				break
			}
			evs = gen.Next(evs[:0])
			for i := range evs {
				b, _ := json.Marshal(&evs[i])
				batch = append(batch, kafka.Message{Key: []byte(evs[i].Key()), Value: b})
			}
		}
		if len(batch) > 0 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("publishing: %w", err)
			}
			published.Add(int64(len(batch)))
		}
	}
}
