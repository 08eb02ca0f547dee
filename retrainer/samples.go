package retrainer

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/stream"
)

// ReadSamples reads the latest records of the samples topic, at most maxSamples spread evenly
// over its partitions, up to the end offsets it finds when it starts (records produced
// meanwhile wait for the next refit). Records that do not decode are counted and skipped:
// training data is best effort, a refit is not.
func ReadSamples(ctx context.Context, c stream.Cluster, topic string, maxSamples int, log *slog.Logger, fn func(partition int, s *features.Sample)) (bad int, err error) {
	offs, err := c.LogOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	per := int64(max(maxSamples/max(len(offs), 1), 1))
	for p, o := range offs {
		start := max(o.First, o.End-per)
		if start >= o.End {
			continue
		}
		n, err := readPartition(ctx, c, topic, p, start, o.End, fn)
		bad += n
		if err != nil {
			return bad, err
		}
	}
	if bad > 0 && log != nil {
		log.Warn("samples that did not decode were skipped", "topic", topic, "count", bad)
	}
	return bad, nil
}

// readPartition decodes the samples of [start, end) of one partition.
func readPartition(ctx context.Context, c stream.Cluster, topic string, partition int, start, end int64, fn func(int, *features.Sample)) (bad int, err error) {
	err = c.ReadRange(ctx, topic, partition, start, end, func(m *kafka.Message) error {
		s, err := features.DecodeSample(m.Value)
		if err != nil {
			bad++
			return nil
		}
		fn(partition, &s)
		return nil
	})
	return bad, err
}

// Training is the point-in-time training data built from samples.
type Training struct {
	// Samples read and the event times of the earliest and the latest (the samples' clock).
	Samples          int
	Earliest, Latest time.Time

	// Occasions with a full five-brand price context, for the purchase models, and each
	// occasion's customer features at the visit.
	Purchases    []choice.Purchase
	PurchaseCols map[string][]float64

	// Conversion samples whose horizon has passed.
	Conversion *bundle.ConversionData
}

// TrainingOptions shape BuildTraining.
type TrainingOptions struct {
	Windows []int
	// Horizon of the conversion label (default 30 days).
	Horizon time.Duration
	// Session: a purchase this soon after a visit by the same customer is that visit's
	// outcome, not an occasion of its own (default 30 minutes).
	Session time.Duration
}

// sampleRow is what BuildTraining keeps of a sample.
type sampleRow struct {
	customer string
	part     int // of the samples topic
	ts       int64
	bought   bool
	brand    int // 1..5, 0 when not a course brand
	qty      float64
	prices   [choice.Brands]float64
	promos   [choice.Brands]float64
	full     bool // prices for all five brands
}

// TrainingBuilder collects samples one at a time (so the decoded states are not all held)
// and then builds the training data.
type TrainingBuilder struct {
	o    TrainingOptions
	rows []sampleRow
	cols *columns // each sample's features at its own time
}

// NewTrainingBuilder starts an empty builder.
func NewTrainingBuilder(o TrainingOptions) *TrainingBuilder {
	if o.Horizon <= 0 {
		o.Horizon = 30 * 24 * time.Hour
	}
	if o.Session <= 0 {
		o.Session = 30 * time.Minute
	}
	return &TrainingBuilder{o: o, cols: newColumns(o.Windows, 1024)}
}

// Add takes one sample, of a topic with one partition.
func (tb *TrainingBuilder) Add(s *features.Sample) { tb.AddFrom(0, s) }

// AddFrom takes one sample read from partition of the samples topic.
func (tb *TrainingBuilder) AddFrom(partition int, s *features.Sample) {
	r := sampleRow{customer: s.CustomerID, part: partition, ts: s.TS, bought: s.Bought, qty: s.Quantity, full: true}
	if b, err := strconv.Atoi(s.Brand); err == nil && b >= 1 && b <= choice.Brands {
		r.brand = b
	}
	for b := range choice.Brands {
		name := strconv.Itoa(b + 1)
		p, ok := s.Prices[name]
		if !ok {
			r.full = false
		}
		r.prices[b] = p
		if s.Promotions[name] {
			r.promos[b] = 1
		}
	}
	tb.rows = append(tb.rows, r)
	// Features as they were at the sample: recency and windows measured to its own time.
	tb.cols.add(&s.Before, s.Time(), -1)
}

// Build joins the samples into occasions and conversion labels. Samples whose conversion
// horizon has not passed by the latest sample of their partition are left out of the conversion
// data.
func (tb *TrainingBuilder) Build() *Training {
	t := &Training{Samples: len(tb.rows)}
	if len(tb.rows) == 0 {
		return t
	}
	// A customer's samples are all in her partition, in the order ingest applied them, so a
	// sample's horizon has passed, and its label is whole, once its partition's latest sample is
	// past it. Against the latest of all partitions, a partition behind the others would have
	// its recent samples labelled 0 before their purchases arrived.
	latest, earliest := tb.rows[0].ts, tb.rows[0].ts
	latestOf := map[int]int64{}
	for _, r := range tb.rows {
		latest, earliest = max(latest, r.ts), min(earliest, r.ts)
		latestOf[r.part] = max(latestOf[r.part], r.ts)
	}
	t.Earliest, t.Latest = time.UnixMilli(earliest).UTC(), time.UnixMilli(latest).UTC()
	idx := make([]int, len(tb.rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := &tb.rows[a], &tb.rows[b]
		if ra.customer != rb.customer {
			if ra.customer < rb.customer {
				return -1
			}
			return 1
		}
		return int(min(max(ra.ts-rb.ts, -1), 1))
	})
	session, horizon := tb.o.Session.Milliseconds(), tb.o.Horizon.Milliseconds()
	t.PurchaseCols = map[string][]float64{}
	conv := &bundle.ConversionData{Cols: map[string][]float64{},
		Horizon: "purchase within " + strconv.Itoa(int(tb.o.Horizon.Hours()/24)) + " days"}
	cols := tb.cols.byName()
	addCols := func(dst map[string][]float64, names []string, row int) {
		for _, n := range names {
			dst[n] = append(dst[n], cols[n][row])
		}
	}
	consumed := make([]bool, len(tb.rows))
	for k, i := range idx {
		r := &tb.rows[i]
		// Conversion: did this customer buy after the sample and within the horizon?
		if r.ts+horizon <= latestOf[r.part] {
			label := 0.0
			for _, j := range idx[k+1:] {
				q := &tb.rows[j]
				if q.customer != r.customer || q.ts > r.ts+horizon {
					break
				}
				if q.bought && q.ts > r.ts {
					label = 1
					break
				}
			}
			conv.Labels = append(conv.Labels, label)
			addCols(conv.Cols, bundle.ConversionFeatures, i)
		}
		// Occasions: a visit, with the purchase that followed it in the same session.
		if consumed[i] || !r.full {
			continue
		}
		p := choice.Purchase{Price: r.prices, Promotion: r.promos}
		if r.bought {
			if r.brand == 0 {
				continue
			}
			p.Incidence, p.Brand, p.Quantity = 1, r.brand, r.qty
		} else if k+1 < len(idx) {
			j := idx[k+1]
			q := &tb.rows[j]
			if q.customer == r.customer && q.bought && q.ts-r.ts <= session {
				consumed[j] = true
				if q.brand == 0 {
					continue
				}
				p.Incidence, p.Brand, p.Quantity = 1, q.brand, q.qty
			}
		}
		t.Purchases = append(t.Purchases, p)
		addCols(t.PurchaseCols, tb.cols.names, i)
	}
	if len(conv.Labels) > 0 {
		t.Conversion = conv
	}
	return t
}

// Labelled is the number of conversion samples whose horizon has passed.
func (t *Training) Labelled() int {
	if t == nil || t.Conversion == nil {
		return 0
	}
	return len(t.Conversion.Labels)
}
