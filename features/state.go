// Package features is segstream's Redis feature store: one small versioned state per customer,
// updated exactly once per event by event time, and the feature vectors derived from it.
//
// # Design
//
// Each customer has one key, seg:{<customer_id>}:f, holding a compact binary State whose first
// nine bytes are a format byte and a version number. A batch of events is applied by reading
// the states in one pipelined round trip (skipped for customers whose last-written state this
// store still caches, decoded), applying the events in Go, and writing the changed states back
// with a compare-and-set (read the header, compare, SET): one script call per batch against a
// single Redis, one short script per customer against a cluster. A customer whose state moved in
// between (another consumer wrote it, or the cache was stale) is re-read and re-applied. That is
// two to four Redis commands per customer per batch, whatever the event carries, where a
// server-side update script runs a dozen per event (segstream bench ingest counts them).
//
// Idempotency lives in the state itself: the last applied offset of every partition that
// carried the customer's events, and a bounded window of recent event-id hashes. A redelivered
// message or a duplicated event id changes nothing, also when one customer's events arrive on
// more than one partition. The hash tag {customer_id} keeps the key in one Redis Cluster slot.
package features

import (
	"math"
	"runtime/debug"
	"slices"
	"time"

	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// Config shapes what the store keeps.
type Config struct {
	// Windows are the trailing windows, in days, of the windowed purchase and spend features.
	// Default 30, 90, 365.
	Windows []int
	// DedupWindow is how many recent event ids per customer are remembered for duplicate
	// detection. Default 1024.
	DedupWindow int
	// MaxBrands bounds the per-brand counters kept per customer. Default 64.
	MaxBrands int
	// Prefix is the key prefix. Default "seg".
	Prefix string
	// CacheSize bounds how many customers' last-written states are kept in memory, decoded, to
	// skip the read and the decoding before a write. Default 100,000 (about 100 MB at ten
	// events per customer); negative disables the cache.
	CacheSize int
	// CacheBytes bounds the heap those states take (an estimate within 5% of the measured
	// heap), whatever their customers' histories: an entry grows with its customer's events,
	// to about 12.7 KB at a thousand (TestCacheFootprint). Default a quarter of the Go
	// runtime's memory limit (GOMEMLIMIT, which the Kubernetes manifests set to the container's
	// limit), or 128 MiB when none is set; negative bounds customers only.
	CacheBytes int64
	// Now is the wall clock that caps the event-time clock (clock.go); nil is time.Now.
	Now func() time.Time
	// MaxContacts bounds the interaction-graph neighbours kept per customer (graph.go). Default
	// 128.
	MaxContacts int
	// Samples makes ApplyBatch return a point-in-time training sample (features/samples.go)
	// for every applied visit and purchase, in Result.Sample.
	Samples bool
	// SampleShare, in (0, 1), limits the samples to that share of customers, chosen by a
	// hash of the id (SampledCustomer): a chosen customer's every visit and purchase has its
	// sample, so the conversion labels, which look for a later purchase of the same customer,
	// stay whole. 0 or 1 (the default) samples every customer.
	SampleShare float64
	// RecordFormat is the encoding of the features records ApplyBatch returns: binary (the
	// default) or JSON.
	RecordFormat RecordFormat
}

func (c Config) withDefaults() Config {
	if len(c.Windows) == 0 {
		c.Windows = []int{30, 90, 365}
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = 1024
	}
	if c.MaxBrands <= 0 {
		c.MaxBrands = 64
	}
	if c.Prefix == "" {
		c.Prefix = redisx.DefaultPrefix
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100000
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = defaultCacheBytes()
	}
	if c.MaxContacts <= 0 {
		c.MaxContacts = 128
	}
	return c
}

func (c *Config) maxWindow() int32 { return int32(slices.Max(c.Windows)) }

// Key is the customer's state key; the hash tag keeps all of a customer's keys in one slot.
func Key(prefix, customerID string) string { return prefix + ":{" + customerID + "}:f" }

// Position is where an event came from. Offset < 0 means unknown (no redelivery check).
type Position struct {
	Partition int32
	Offset    int64
}

// Outcome is what applying one event did.
type Outcome uint8

// Outcomes of Apply.
const (
	Applied          Outcome = iota
	DuplicateOffset          // the message was already applied (a redelivery)
	DuplicateEventID         // another message with the same event id was already applied
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case DuplicateOffset:
		return "duplicate_offset"
	default:
		return "duplicate_event_id"
	}
}

// Bucket holds one day's purchases, for the windowed features.
type Bucket struct {
	Day    int32 // days since the Unix epoch, UTC
	Orders int32
	Spend  float64
}

// BrandCount counts item lines of one brand.
type BrandCount struct {
	Brand string
	Count int64
}

// Attr is one profile attribute with the event time it was set at.
type Attr struct {
	Name  string
	Value float64
	TS    int64
}

// PartOffset is the last applied offset on one partition.
type PartOffset struct {
	Partition int32
	Offset    int64
}

// State is everything kept per customer. Times are Unix milliseconds; 0 means never.
type State struct {
	// Version counts the events applied to the state: each applied event makes a new version,
	// so a version names exactly one state (the scorer orders answers by it).
	Version uint64

	FirstSeen, LastSeen         int64
	FirstPurchase, LastPurchase int64
	Orders                      int64
	Monetary                    float64 // purchase totals
	ItemLines                   int64
	Quantity                    float64
	ItemSpend                   float64 // Σ quantity × unit price over items
	PromoOrders                 int64   // purchases with at least one promoted item
	Refunds                     int64
	RefundAmount                float64
	Visits                      int64
	LastBrand                   string
	LastQuantity                float64
	ProfileTS                   int64
	PurchaseDays                []int32 // sorted distinct purchase days, all time
	Buckets                     []Bucket
	Brands                      []BrandCount
	Attrs                       []Attr
	Offsets                     []PartOffset
	Recent                      []uint64 // event-id hashes, oldest first
	LastBrandTS, LastQuantityTS int64

	// Where Recent is stored (window.go): keyN ids in the customer's window key, of which the
	// newest are Recent's oldest; Recent's newest tailN are not there (the state's own blob
	// holds them). keyNeed, after Decode, is how many of the window key's newest ids go before
	// Recent; attachWindow puts them there. keyStamp is the window key's newest id.
	keyN, tailN, keyNeed int32
	keyStamp             uint64

	// The interaction graph (graph.go): interactions made and received, their summed weights,
	// referrals made and received, and the contacts.
	InteractionsOut, InteractionsIn int64
	WeightOut, WeightIn             float64
	ReferralsMade, ReferralsIn      int64
	Contacts                        []Contact // sorted by ID
}

const msPerDay = 86400000

func dayOf(ms int64) int32 {
	d := ms / msPerDay
	if ms < 0 && ms%msPerDay != 0 {
		d--
	}
	return int32(d)
}

// hashID is FNV-1a 64: stable across processes, unlike maphash.
func hashID(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Apply applies one event at pos. It reports what happened and whether the state changed.
//
// A message's outcome is the same each time it is applied (while the dedup window holds its
// marks): DuplicateOffset means that this very message was applied before, so the period
// aggregates count a redelivered message by it (Periods.Apply). For that, a message found to be
// an event-id duplicate leaves a mark of its position in Recent (dupMark), and the state is
// written for it; a redelivery of it finds the mark and is an event-id duplicate again, even
// after a later message has moved the partition's offset past it.
func (s *State) Apply(ev *stream.Event, pos Position, cfg *Config) (Outcome, bool) {
	return s.apply(ev, pos, cfg, false)
}

// dupMark is the Recent entry of a message at pos found to be an event-id duplicate: a hash in
// a domain of its own (event ids are hashed without the leading zero byte).
func dupMark(pos Position) uint64 {
	var b [13]byte
	b[1] = byte(pos.Partition)
	b[2] = byte(pos.Partition >> 8)
	b[3] = byte(pos.Partition >> 16)
	b[4] = byte(pos.Partition >> 24)
	for i := range 8 {
		b[5+i] = byte(pos.Offset >> (8 * i))
	}
	return hashID(string(b[:]))
}

// remember appends h to the dedup window, dropping the oldest entries beyond its size.
func (s *State) remember(h uint64, window int) {
	if len(s.Recent) >= window {
		n := len(s.Recent) - window + 1
		s.Recent = append(s.Recent[:0], s.Recent[n:]...)
	}
	s.Recent = append(s.Recent, h)
	s.tailN = min(s.tailN+1, int32(len(s.Recent)))
}

// apply is Apply, for an interaction's target when target is set (Record.Target).
func (s *State) apply(ev *stream.Event, pos Position, cfg *Config, target bool) (Outcome, bool) {
	if pos.Offset >= 0 {
		i := slices.IndexFunc(s.Offsets, func(p PartOffset) bool { return p.Partition == pos.Partition })
		if i >= 0 && pos.Offset <= s.Offsets[i].Offset {
			if slices.Contains(s.Recent, dupMark(pos)) {
				return DuplicateEventID, false
			}
			return DuplicateOffset, false
		}
		if i >= 0 {
			s.Offsets[i].Offset = pos.Offset
		} else {
			s.Offsets = append(s.Offsets, PartOffset(pos))
		}
	}
	h := hashID(ev.EventID)
	if slices.Contains(s.Recent, h) {
		if pos.Offset < 0 {
			return DuplicateEventID, false
		}
		s.remember(dupMark(pos), cfg.DedupWindow)
		return DuplicateEventID, true
	}
	s.remember(h, cfg.DedupWindow)
	s.Version++

	ts := ev.TS.UnixMilli()
	if target {
		// The target did not act: its first and last seen times stay.
		s.interact(ev, ts, true, cfg)
		return Applied, true
	}
	if s.FirstSeen == 0 || ts < s.FirstSeen {
		s.FirstSeen = ts
	}
	if ts > s.LastSeen {
		s.LastSeen = ts
	}
	switch ev.Type {
	case stream.Purchase:
		s.applyPurchase(ev, ts, cfg)
	case stream.Refund:
		s.Refunds++
		s.RefundAmount += ev.Total()
	case stream.Visit:
		s.Visits++
	case stream.Profile:
		s.applyProfile(ev, ts)
	case stream.Interaction:
		s.interact(ev, ts, false, cfg)
	}
	s.prune(cfg)
	return Applied, true
}

func (s *State) applyPurchase(ev *stream.Event, ts int64, cfg *Config) {
	total := ev.Total()
	if s.Orders == 0 || ts < s.FirstPurchase {
		s.FirstPurchase = ts
	}
	if ts >= s.LastPurchase {
		s.LastPurchase = ts
	}
	s.Orders++
	s.Monetary += total
	promo := false
	var qty float64
	brand := ""
	for i := range ev.Items {
		it := &ev.Items[i]
		s.ItemLines++
		s.Quantity += it.Quantity
		qty += it.Quantity
		s.ItemSpend += it.Quantity * it.UnitPrice
		promo = promo || it.Promotion
		if it.Brand != "" {
			if brand == "" {
				brand = it.Brand
			}
			s.countBrand(it.Brand, cfg)
		}
	}
	if promo {
		s.PromoOrders++
	}
	// Last brand and quantity follow event time, so a late event does not overwrite them.
	if brand != "" && ts >= s.LastBrandTS {
		s.LastBrand, s.LastBrandTS = brand, ts
	}
	if len(ev.Items) > 0 && ts >= s.LastQuantityTS {
		s.LastQuantity, s.LastQuantityTS = qty, ts
	}
	day := dayOf(ts)
	if i, found := slices.BinarySearch(s.PurchaseDays, day); !found {
		s.PurchaseDays = slices.Insert(s.PurchaseDays, i, day)
	}
	if day > dayOf(s.LastSeen)-cfg.maxWindow() {
		i, found := slices.BinarySearchFunc(s.Buckets, day, func(b Bucket, d int32) int { return int(b.Day - d) })
		if !found {
			s.Buckets = slices.Insert(s.Buckets, i, Bucket{Day: day})
		}
		s.Buckets[i].Orders++
		s.Buckets[i].Spend += total
	}
}

func (s *State) countBrand(b string, cfg *Config) {
	for i := range s.Brands {
		if s.Brands[i].Brand == b {
			s.Brands[i].Count++
			return
		}
	}
	if len(s.Brands) < cfg.MaxBrands {
		s.Brands = append(s.Brands, BrandCount{b, 1})
	}
}

func (s *State) applyProfile(ev *stream.Event, ts int64) {
	if ts > s.ProfileTS {
		s.ProfileTS = ts
	}
	for name, v := range ev.Attributes {
		i := slices.IndexFunc(s.Attrs, func(a Attr) bool { return a.Name == name })
		switch {
		case i < 0:
			s.Attrs = append(s.Attrs, Attr{name, v, ts})
		case ts >= s.Attrs[i].TS:
			s.Attrs[i].Value, s.Attrs[i].TS = v, ts
		}
	}
	slices.SortFunc(s.Attrs, func(a, b Attr) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
}

// prune drops buckets that fell out of the longest window, measured from the latest event time.
func (s *State) prune(cfg *Config) {
	horizon := dayOf(s.LastSeen) - cfg.maxWindow()
	n := 0
	for n < len(s.Buckets) && s.Buckets[n].Day <= horizon {
		n++
	}
	if n > 0 {
		s.Buckets = append(s.Buckets[:0], s.Buckets[n:]...)
	}
}

// Window sums purchases and spend over days in (asOfDay-days, asOfDay].
func (s *State) Window(asOf time.Time, days int) (orders int64, spend float64) {
	return s.window(dayOf(asOf.UnixMilli()), days)
}

// window sums purchases and spend over days in (hi-days, hi].
func (s *State) window(hi int32, days int) (orders int64, spend float64) {
	lo := hi - int32(days)
	for _, b := range s.Buckets {
		if b.Day > lo && b.Day <= hi {
			orders += int64(b.Orders)
			spend += b.Spend
		}
	}
	return orders, spend
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// defaultCacheBytes is Config.CacheBytes's default: a quarter of the runtime's memory limit, so
// the cache leaves the rest to batches, client buffers and the collector's headroom (the
// binaries' GOGC of 400 lets the heap grow well past what is live until it nears the limit);
// 128 MiB without a limit.
func defaultCacheBytes() int64 {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return limit / 4
	}
	return 128 << 20
}
