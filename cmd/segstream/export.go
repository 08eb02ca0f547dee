package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/roles"
)

func init() {
	register("export", "export from Redis (export features)", nil)
	register("export features", "export customer features from Redis as CSV (export features --redis ADDR --as-of TIME --out PATH)", exportFeatures)
}

// parseTime accepts RFC 3339 or a plain date (midnight UTC).
func parseTime(flagName, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, badUsage("--%s %q: give an RFC 3339 time (2011-12-10T12:50:00Z) or a date (2011-12-10)", flagName, s)
}

func exportFeatures(fs *flag.FlagSet) runFunc {
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis address host:port or redis:// URL (env SEGSTREAM_REDIS)")
	asOf := fs.String("as-of", "", "the time recency and windows are measured to (RFC 3339 or YYYY-MM-DD); default the event-time clock, as the scorer measures live answers")
	out := fs.String("out", "-", "output CSV path, - for standard output")
	windows := fs.String("windows", "30,90,365", "the windows ingest was configured with, in days")
	attrs := fs.String("attributes", "", "comma-separated profile attribute columns (default: those found in the first 1000 customers)")
	limit := fs.Int("limit", 0, "export at most this many customers (0 = all)")
	return func(ctx context.Context, stdout io.Writer) error {
		var t time.Time
		if *asOf != "" {
			var err error
			if t, err = parseTime("as-of", *asOf); err != nil {
				return err
			}
		}
		w, err := roles.ParseWindows(*windows)
		if err != nil {
			return usageError{err}
		}
		rdb, err := roles.NewRedis(*redisAddr)
		if err != nil {
			return usageError{err}
		}
		defer rdb.Close()
		store := features.NewStore(rdb, features.Config{Windows: w})
		if t.IsZero() {
			ms, ok, err := store.Clock(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("the store has no event-time clock (no event applied yet); give --as-of")
			}
			t = time.UnixMilli(ms).UTC()
		}
		o := features.ExportOptions{AsOf: t, Limit: *limit}
		if *attrs != "" {
			o.Attributes = strings.Split(*attrs, ",")
		}
		var dst io.Writer = stdout
		var f *os.File
		if *out != "-" {
			if f, err = os.Create(*out); err != nil {
				return fmt.Errorf("creating %s: %w", *out, err)
			}
			defer f.Close()
			dst = f
		}
		bw := bufio.NewWriterSize(dst, 1<<20)
		st, err := store.ExportCSV(ctx, bw, o)
		if err != nil {
			return fmt.Errorf("exporting features: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("writing %s: %w", *out, err)
		}
		if f != nil {
			if err := f.Close(); err != nil {
				return fmt.Errorf("closing %s: %w", *out, err)
			}
		}
		slog.Info("exported features", "customers", st.Customers, "as_of", t.Format(time.RFC3339), "out", *out, "attributes_left_out", st.DroppedAttributes)
		return nil
	}
}
