// Package datasets turns the real public data sets in ../shared/data into v1 events, so they can
// be replayed through the pipeline exactly as a shopping platform would publish them.
//
// Each preset reads one file format (plain or gzip, CRLF or LF, RFC 4180 quoting for CSV) and
// calls a function with every event in file order. What a preset leaves out is never silent: it
// is counted in Stats.Skipped under a reason named by the Skip constants. docs/replay.md gives
// the mapping rules of every preset.
package datasets

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/segstream/segstream/stream"
)

// Preset names a data-set format.
type Preset string

// The presets.
const (
	// OnlineRetail is UCI Online Retail or Online Retail II: one purchase or refund per invoice.
	OnlineRetail Preset = "online-retail"
	// CoursePurchases is the customer-analytics course's purchase file: visits with the price
	// context, and a purchase after each visit that bought.
	CoursePurchases Preset = "course-purchases"
	// CourseSegmentation is the course's segmentation file: one profile per customer.
	CourseSegmentation Preset = "course-segmentation"
	// CDNOW is CDNOW_master.txt or CDNOW_sample.txt: one purchase per line.
	CDNOW Preset = "cdnow"
)

// Presets lists every preset, in the order the docs give them.
var Presets = []Preset{OnlineRetail, CoursePurchases, CourseSegmentation, CDNOW}

// ParsePreset checks a preset name.
func ParsePreset(name string) (Preset, error) {
	for _, p := range Presets {
		if string(p) == name {
			return p, nil
		}
	}
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown preset %q: one of %s", name, strings.Join(names, ", "))
}

// Skip reasons, the keys of Stats.Skipped. Each says what it counts.
const (
	// SkipNoCustomer counts online-retail rows with an empty customer id.
	SkipNoCustomer = "row_no_customer"
	// SkipCustomerMismatch counts online-retail rows whose customer differs from the customer
	// of the invoice's first row; the row is left out of the invoice.
	SkipCustomerMismatch = "row_customer_mismatch"
	// SkipLineNotPositive counts online-retail lines dropped from an invoice: in a purchase a
	// quantity or unit price ≤ 0, in a refund a quantity or unit price of 0.
	SkipLineNotPositive = "line_not_positive"
	// SkipInvoiceNoItems counts online-retail invoices left with no items.
	SkipInvoiceNoItems = "invoice_no_items"
	// SkipBadPurchase counts course-purchases rows with Incidence 1 but no brand 1..5 or no
	// positive quantity: the visit is kept, the purchase is not.
	SkipBadPurchase = "purchase_bad_brand_or_quantity"
)

// Stats says what a read produced and what it left out.
type Stats struct {
	// Rows is the number of data rows (lines) read, headers excluded.
	Rows int
	// Events counts the events produced, by type.
	Events map[stream.EventType]int
	// Skipped counts what was left out, by reason (the Skip constants).
	Skipped map[string]int
}

// Published is the number of events produced.
func (s *Stats) Published() int {
	n := 0
	for _, c := range s.Events {
		n += c
	}
	return n
}

// SkipReasons are the reasons with a count, sorted, for stable printing.
func (s *Stats) SkipReasons() []string {
	out := make([]string, 0, len(s.Skipped))
	for r := range s.Skipped {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func (s *Stats) skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason]++
}

// Epoch is the date the course files' Day 1 falls on. The course data carries day numbers
// only; a fixed epoch keeps replays deterministic. Day d is Epoch + d days.
var Epoch = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)

// ProfileTime is the event time of every course-segmentation profile: the epoch, so profiles
// precede every course purchase-file event.
var ProfileTime = Epoch

// Read reads one data set from r (gzip is detected by its magic bytes) and calls yield with
// each event in file order. An error from yield stops the read and is returned as is.
func Read(ctx context.Context, p Preset, r io.Reader, yield func(stream.Event) error) (Stats, error) {
	st := Stats{Events: map[stream.EventType]int{}, Skipped: map[string]int{}}
	br, err := maybeGunzip(r)
	if err != nil {
		return st, err
	}
	count := func(e stream.Event) error {
		if err := yield(e); err != nil {
			return err
		}
		st.Events[e.Type]++
		return nil
	}
	switch p {
	case OnlineRetail:
		err = readOnlineRetail(ctx, br, &st, count)
	case CoursePurchases:
		err = readCoursePurchases(ctx, br, &st, count)
	case CourseSegmentation:
		err = readCourseSegmentation(ctx, br, &st, count)
	case CDNOW:
		err = readCDNOW(ctx, br, &st, count)
	default:
		_, err = ParsePreset(string(p))
	}
	return st, err
}

// ReadFile is Read on a file. A name ending in .gz must be gzip; any other name is gzip when it
// starts with gzip's magic bytes.
func ReadFile(ctx context.Context, p Preset, path string, yield func(stream.Event) error) (Stats, error) {
	f, err := Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	st, err := Read(ctx, p, f, yield)
	if err != nil {
		return st, fmt.Errorf("reading %s as %s: %w", path, p, err)
	}
	return st, nil
}

// Load opens path and reads it with read, a parser of one of the models' file formats. The errors say "opening what" or "reading path".
func Load[T any](path, what string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("opening %s: %w", what, err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return v, fmt.Errorf("reading %s: %w", path, err)
	}
	return v, nil
}

// Open opens a data file, unwrapping gzip by extension or magic bytes.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening data set: %w", err)
	}
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening %s: named .gz but not gzip: %w", path, err)
		}
		r = zr
	} else if r, err = maybeGunzip(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return readCloser{r, f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// maybeGunzip peeks at the first two bytes and unwraps gzip when they are its magic. The file
// name is not needed: magic bytes decide for .gz files and for compressed files misnamed alike.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading data set: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return bufio.NewReaderSize(zr, 1<<16), nil
	}
	return br, nil
}

// round2 rounds money to the cent.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// checkCtx is called every few thousand rows: often enough to stop promptly, rarely enough to
// cost nothing.
func checkCtx(ctx context.Context, row int) error {
	if row&4095 == 0 {
		return ctx.Err()
	}
	return nil
}
