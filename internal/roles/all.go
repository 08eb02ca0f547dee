package roles

import (
	"context"
	"errors"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/internal/ops"
	"github.com/segstream/segstream/scorer"
)

// RunAll runs ingest and the scorer in one process behind one operator endpoint on s.HTTP: the
// read API, both roles' metrics in one registry, and a readiness check that needs both.
func RunAll(ctx context.Context, s cli.Servers, io ingest.Options, so scorer.Options, log *slog.Logger) error {
	rdb, err := NewRedis(s.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := ops.NewRegistry()
	io.Registerer, io.Logger = reg, log.With("role", "ingest")
	so.Registerer, so.Logger = reg, log.With("role", "scorer")
	in, err := ingest.New(io, rdb)
	if err != nil {
		return err
	}
	sc, err := scorer.New(so, rdb)
	if err != nil {
		return err
	}
	srv := ops.NewServer(reg, func() error { return errors.Join(in.Ready(), sc.Ready()) }, log)
	sc.RegisterAPI(srv.Mux)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, s.HTTP) })
	g.Go(func() error {
		err := in.Run(gctx)
		srv.Stopping()
		return err
	})
	g.Go(func() error {
		err := sc.Run(gctx)
		srv.Stopping()
		return err
	})
	return g.Wait()
}
