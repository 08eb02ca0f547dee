// Package replay publishes a real data set to Kafka as v1 events, in file order, optionally
// paced, and can wait until a consumer group has committed all of it: `segstream replay`
// (docs/replay.md).
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/stream"
)

// batch is how many messages one WriteMessages call carries: enough to fill a produce
// request per partition, so a synchronous call is not a round trip per message.
const batch = 6000

// batchBytes bounds one produce batch: half of Kafka's default message.max.bytes.
const batchBytes = 512 << 10

// Options say what to publish where.
type Options struct {
	Brokers     []string
	Preset      datasets.Preset
	File        string
	Topic       string
	Rate        float64 // events per second; 0 publishes as fast as the broker takes them
	Wait        bool    // after publishing, wait until Group has committed everything published
	Group       string
	WaitTimeout time.Duration
	Security    *stream.Security
}

// Run publishes the data set. It loads the whole data set first, so progress has a total and the publish rate measures
// the broker, not the CSV parser. Every preset is under 100k events (tens of MB encoded);
// online-retail has to hold its file anyway to group invoices.
func Run(ctx context.Context, o Options, stdout io.Writer) error {
	start := time.Now()
	var msgs []kafka.Message
	st, err := datasets.ReadFile(ctx, o.Preset, o.File, func(e stream.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", e.EventID, err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.CustomerID), Value: b})
		return nil
	})
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	slog.Info("data set read", "preset", o.Preset, "file", o.File, "rows", st.Rows, "events", len(msgs), "elapsed", loaded.Round(time.Millisecond))

	// Fail fast, with a useful message, when the broker is unreachable or the topic is
	// missing: the writer would otherwise retry for a long while.
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err = o.cluster().Partitions(checkCtx, o.Topic)
	cancel()
	if err != nil {
		return fmt.Errorf("checking topic %s on %s (is the broker up and the topic created?): %w", o.Topic, strings.Join(o.Brokers, ","), err)
	}

	chunk := batch
	if o.Rate > 0 {
		// Pace in slices of a tenth of a second so the rate holds over short spans too.
		chunk = min(max(int(o.Rate/10), 1), batch)
	}
	w := stream.NewWriter(o.Brokers, o.Topic, stream.WriterOptions{BatchSize: min(chunk, 1000), Security: o.Security})
	// NewWriter allows 8 MiB batches, but Kafka's and kfake's default message.max.bytes is
	// 1 MiB per record batch, and a thousand Online Retail invoices are several MiB: the
	// broker refuses them with MESSAGE_TOO_LARGE. Stay well under the default.
	w.BatchBytes = batchBytes
	var published atomic.Int64
	stopProgress := startProgress(stdout, len(msgs), &published)
	pubStart := time.Now()
	err = publish(ctx, w, msgs, chunk, o.Rate, pubStart, &published)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("flushing writer: %w", cerr)
	}
	pubElapsed := time.Since(pubStart)
	stopProgress()
	if err != nil {
		return fmt.Errorf("published %d of %d events: %w", published.Load(), len(msgs), err)
	}
	var bytes int
	for _, m := range msgs {
		bytes += len(m.Value)
	}
	printSummary(stdout, o, st, len(msgs), bytes, loaded, pubElapsed)

	if o.Wait {
		return waitForGroup(ctx, o, stdout)
	}
	return nil
}

// publish writes msgs in chunks, in file order. One synchronous call at a time keeps each
// customer's events in order on its partition; large chunks keep the broker busy.
func publish(ctx context.Context, w *kafka.Writer, msgs []kafka.Message, chunk int, rate float64, start time.Time, published *atomic.Int64) error {
	for i := 0; i < len(msgs); i += chunk {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
		end := min(i+chunk, len(msgs))
		if err := w.WriteMessages(ctx, msgs[i:end]...); err != nil {
			return fmt.Errorf("writing events %d..%d: %w", i, end-1, SummarizeWriteErr(err))
		}
		published.Add(int64(end - i))
	}
	return nil
}

// isTerminal reports whether w is a terminal, where a redrawn progress bar makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startProgress draws a bar on a terminal, or logs a line every few seconds otherwise; the
// returned function stops it and waits until it has drawn its last state.
func startProgress(out io.Writer, total int, published *atomic.Int64) func() {
	tty := isTerminal(out)
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	draw := func(final bool) {
		n := published.Load()
		rate := float64(n) / max(time.Since(start).Seconds(), 1e-9)
		if !tty {
			if !final {
				slog.Info("replay progress", "published", n, "total", total, "events_per_s", int64(rate))
			}
			return
		}
		const width = 30
		filled := width
		pct := 100.0
		if total > 0 {
			filled = int(int64(width) * n / int64(total))
			pct = 100 * float64(n) / float64(total)
		}
		fmt.Fprintf(out, "\r[%s%s] %5.1f%% %d/%d events %8.0f ev/s", strings.Repeat("#", filled), strings.Repeat("-", width-filled), pct, n, total, rate)
		if final {
			fmt.Fprintln(out)
		}
	}
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func printSummary(w io.Writer, o Options, st datasets.Stats, n, bytes int, read, elapsed time.Duration) {
	types := make([]string, 0, len(st.Events))
	for t, c := range st.Events {
		types = append(types, fmt.Sprintf("%s %d", t, c))
	}
	sort.Strings(types)
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	mb := float64(bytes) / (1 << 20)
	fmt.Fprintf(w, "published %d events (%s) from %s to %s in %s: %.0f events/s, %.1f MiB/s of JSON (file read and encoded in %s)\n",
		n, strings.Join(types, ", "), o.File, o.Topic, elapsed.Round(time.Millisecond), rate, mb/max(elapsed.Seconds(), 1e-9), read.Round(time.Millisecond))
	attrs := []any{"published", n, "bytes", bytes, "elapsed", elapsed.Round(time.Millisecond), "events_per_s", int64(rate), "rows", st.Rows}
	if reasons := st.SkipReasons(); len(reasons) > 0 {
		parts := make([]string, len(reasons))
		for i, r := range reasons {
			parts[i] = fmt.Sprintf("%s=%d", r, st.Skipped[r])
			attrs = append(attrs, "skipped_"+r, st.Skipped[r])
		}
		fmt.Fprintf(w, "skipped: %s\n", strings.Join(parts, " "))
	} else {
		fmt.Fprintln(w, "skipped: nothing")
	}
	slog.Info("replay done", attrs...)
}

// waitForGroup returns once the group has committed, on every partition, at least the end
// offset the partition had right after publishing.
func waitForGroup(ctx context.Context, o Options, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	target, err := o.cluster().LogOffsets(ctx, o.Topic)
	if err != nil {
		return fmt.Errorf("reading end offsets to wait for: %w", err)
	}
	start := time.Now()
	backoff := 100 * time.Millisecond
	lastLog := time.Now()
	var behind int64
	var lagging []string
	for {
		committed, err := o.cluster().CommittedOffsets(ctx, o.Group, o.Topic)
		if err == nil {
			behind, lagging = 0, lagging[:0]
			parts := make([]int, 0, len(target))
			for p := range target {
				parts = append(parts, p)
			}
			sort.Ints(parts)
			for _, p := range parts {
				t := target[p]
				if t.End <= t.First || committed[p] >= t.End {
					continue // nothing to consume there, or consumed
				}
				from := max(committed[p], t.First)
				behind += t.End - from
				lagging = append(lagging, fmt.Sprintf("partition %d committed %d of %d", p, committed[p], t.End))
			}
			if len(lagging) == 0 {
				fmt.Fprintf(stdout, "group %s has committed everything published (waited %s)\n", o.Group, time.Since(start).Round(time.Millisecond))
				return nil
			}
			if time.Since(lastLog) > 5*time.Second {
				slog.Info("waiting for consumer group", "group", o.Group, "behind", behind, "partitions_behind", len(lagging))
				lastLog = time.Now()
			}
		} else if !errors.Is(err, context.DeadlineExceeded) {
			slog.Warn("reading committed offsets", "group", o.Group, "err", err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				if lagging == nil {
					return fmt.Errorf("--wait: gave up after %s: could not read the offsets of group %s: %w", o.WaitTimeout, o.Group, err)
				}
				return fmt.Errorf("--wait: gave up after %s: group %s is %d records behind on %d of %d partitions of %s (%s)",
					o.WaitTimeout, o.Group, behind, len(lagging), len(target), o.Topic, strings.Join(lagging, "; "))
			}
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// SummarizeWriteErr shortens kafka-go's WriteErrors, which prints one error per message (a
// megabyte of text for a rejected batch), to a count and the distinct errors.
func SummarizeWriteErr(err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	failed := 0
	distinct := map[string]error{}
	for _, e := range we {
		if e != nil {
			failed++
			distinct[e.Error()] = e
		}
	}
	msgs := make([]string, 0, len(distinct))
	var first error
	for m, e := range distinct {
		msgs = append(msgs, m)
		if first == nil {
			first = e
		}
	}
	sort.Strings(msgs)
	return fmt.Errorf("%d of %d messages failed: %s: %w", failed, len(we), strings.Join(msgs, "; "), first)
}

func (o *Options) cluster() stream.Cluster {
	return stream.Cluster{Brokers: o.Brokers, Security: o.Security}
}
