package main

import (
	"context"
	"io"

	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/scorer"
)

func init() {
	registerRaw("scorer", "run the scorer role: features topic to live scores, hot-swapped bundles, read API", runScorer)
}

func runScorer(ctx context.Context, args []string, stdout io.Writer) error {
	run, s, log, check, err := roles.Scorer().Parse(args)
	if err != nil {
		return usageError{err}
	}
	if check {
		_, err := io.WriteString(stdout, "configuration ok\n")
		return err
	}
	scorer.TuneGC()
	return run(ctx, s, log)
}
