package roles

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/app/ops"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/scorer"
)

// RunAll runs ingest and the scorer (a nil options pointer leaves that role out); see RunRoles.
func RunAll(ctx context.Context, s cli.Servers, io *ingest.Options, so *scorer.Options, log *slog.Logger) error {
	return RunRoles(ctx, s, Roles{Ingest: io, Scorer: so}, log)
}

// Roles are the roles one process runs; a nil options pointer leaves that role out.
type Roles struct {
	Ingest    *ingest.Options
	Scorer    *scorer.Options
	Retrainer *retrainer.Options
}

// prefix is the feature store's key prefix of the roles (they share one store).
func (rs Roles) prefix() string {
	switch {
	case rs.Ingest != nil:
		return rs.Ingest.Features.Prefix
	case rs.Scorer != nil:
		return rs.Scorer.Features.Prefix
	case rs.Retrainer != nil:
		return rs.Retrainer.Features.Prefix
	}
	return ""
}

// RunRoles runs the given roles in one process behind one operator endpoint on s.HTTP (every
// role's metrics in one registry, and a readiness check that needs every role) and one API
// listener on s.API: the read API and dashboard when the scorer runs, the retrainer's report
// and trigger when it runs. The API listener is rate limited per client; both are bounded in
// connections and time (internal/app/ops).
func RunRoles(ctx context.Context, s cli.Servers, rs Roles, log *slog.Logger) error {
	io, so := rs.Ingest, rs.Scorer
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rdb, err := NewRedisAuth(s.Redis, s.RedisAuth)
	if err != nil {
		return err
	}
	kafkaSec, err := s.KafkaSecurity.Build()
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := ops.NewRegistry()
	persistence := prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_redis_persistence_enabled",
		Help: "1 if every Redis master keeps an append-only file or RDB snapshots, 0 if one keeps none (a restart empties it); unset if the configuration could not be read."})
	reg.MustRegister(persistence)
	if err := CheckRedisConfig(ctx, rdb, log, persistence); err != nil {
		return err
	}
	var (
		runs  []func(context.Context) error
		ready []func() error
		sc    *scorer.Scorer
	)
	// One watch of the store's epoch marker for every role of the process: one metric, one
	// Redis read a second, one verdict on whether the store was lost.
	epoch := features.NewEpochWatch(rdb, rs.prefix(), reg, log)
	if io != nil {
		o := *io
		o.Registerer, o.Logger, o.Security, o.Epoch = reg, log.With("role", "ingest"), kafkaSec, epoch
		in, err := ingest.New(o, rdb)
		if err != nil {
			return err
		}
		runs, ready = append(runs, in.Run), append(ready, in.Ready)
	}
	if so != nil {
		o := *so
		o.Registerer, o.Gatherer, o.Logger, o.Security, o.Epoch = reg, reg, log.With("role", "scorer"), kafkaSec, epoch
		if rs.Retrainer != nil { // same origin: the dashboard reads its status and links its report
			o.ReportURL, o.RetrainerStatusURL = "/report", "/v1/retrainer/status"
		}
		if sc, err = scorer.New(o, rdb); err != nil {
			return err
		}
		runs, ready = append(runs, sc.Run), append(ready, sc.Ready)
	}
	var rt *retrainer.Retrainer
	if ro := rs.Retrainer; ro != nil {
		o := *ro
		o.Registerer, o.Logger, o.Security, o.Epoch = reg, log.With("role", "retrainer"), kafkaSec, epoch
		if rt, err = retrainer.New(o, rdb); err != nil {
			return err
		}
		runs, ready = append(runs, rt.Run), append(ready, rt.Ready)
	}
	if len(runs) == 0 {
		return errors.New("no role to run")
	}
	hm := ops.NewMetrics(reg)
	srv := ops.NewServer(reg, func() error {
		var errs []error
		seen := map[string]bool{} // roles sharing a cause (a lost store) say it once
		for _, r := range ready {
			if err := r(); err != nil && !seen[err.Error()] {
				seen[err.Error()] = true
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}, log)
	srv.Metrics = hm
	var api *http.ServeMux
	if sc != nil || rt != nil {
		api = http.NewServeMux()
		if sc != nil {
			sc.RegisterAPI(api)
			if so.APIToken == "" && s.API != "" {
				log.Warn("the read API serves without a token: set --api-token (SEGSTREAM_API_TOKEN) unless only trusted clients reach it", "api", s.API)
			}
		}
		if rt != nil {
			rt.RegisterAPI(api)
		}
	}
	// Listen before running anything, so an address in use stops the process at once.
	apiL, err := ops.Listen("api", s.API)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, s.HTTP) })
	if api != nil && apiL != nil {
		h := ops.RateLimit{PerSecond: s.APIRate, Burst: s.APIBurst}.Handler(ops.ListenerAPI, api, hm)
		g.Go(func() error {
			return ops.ServeHTTP(gctx, ops.ListenerAPI, apiL, h, ops.Limits{MaxConns: s.APIMaxConns}, hm, log)
		})
	} else if apiL != nil {
		apiL.Close() // no role here has an API
	}
	for _, run := range runs {
		g.Go(func() error {
			err := run(gctx)
			srv.Stopping() // one role stopping makes the process not ready
			return err
		})
	}
	return g.Wait()
}
