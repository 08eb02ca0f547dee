package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/testenv"
	"github.com/segstream/segstream/stream"
)

// expected is the oracle: plain sums over the unique events, computed without the store.
type expected struct {
	orders, visits, refunds int
	monetary, refundAmount  float64
	first, last             int64
	days                    map[int64]bool
}

type workload struct {
	msgs      []kafka.Message // what is published, duplicates and garbage included
	want      map[string]*expected
	malformed int
	reasons   map[string]int // the DLQ reason each malformed record must carry, counted
}

func cents(x float64) int64 { return int64(math.Round(x * 100)) }

// makeWorkload builds events for n customers in shuffled event-time order, re-sends dupFrac of
// them later with the same event id, and mixes in malformed records.
func makeWorkload(seed uint64, customers, events int, dupFrac float64, malformed int) *workload {
	r := rand.New(rand.NewPCG(seed, 7))
	w := &workload{want: map[string]*expected{}}
	base := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	var good []kafka.Message
	for i := 0; i < events; i++ {
		c := fmt.Sprintf("cust-%d", r.IntN(customers))
		ts := base.Add(time.Duration(r.IntN(340*24*60)) * time.Minute)
		ev := stream.Event{EventID: fmt.Sprintf("ev-%d", i), CustomerID: c, TS: ts}
		e := w.want[c]
		if e == nil {
			e = &expected{days: map[int64]bool{}}
			w.want[c] = e
		}
		switch k := r.IntN(10); {
		case k < 5:
			ev.Type = stream.Purchase
			for j := 0; j <= r.IntN(3); j++ {
				ev.Items = append(ev.Items, stream.Item{SKU: "s", Brand: fmt.Sprint(1 + r.IntN(5)), Quantity: float64(1 + r.IntN(5)), UnitPrice: float64(r.IntN(2000)) / 100})
			}
			ev.Amount = float64(cents(ev.Total())) / 100
			ev.Prices = stream.PricesOf(map[string]float64{"1": 1.1, "3": 2.5})
			ev.Promotions = stream.PromotionsOf(map[string]bool{"3": true})
			e.orders++
			e.monetary += ev.Amount
			ms := ts.UnixMilli()
			if e.first == 0 || ms < e.first {
				e.first = ms
			}
			e.last = max(e.last, ms)
			e.days[ms/86400000] = true
		case k < 8:
			ev.Type = stream.Visit
			ev.Prices = stream.PricesOf(map[string]float64{"1": 1.2, "2": 1.8})
			e.visits++
		case k < 9:
			ev.Type = stream.Refund
			ev.Amount = float64(1 + r.IntN(50))
			e.refunds++
			e.refundAmount += ev.Amount
		default:
			ev.Type = stream.Profile
			ev.Attributes = map[string]float64{"age": float64(18 + r.IntN(60))}
		}
		b, _ := json.Marshal(&ev)
		good = append(good, kafka.Message{Key: []byte(c), Value: b})
	}
	r.Shuffle(len(good), func(i, j int) { good[i], good[j] = good[j], good[i] })
	w.msgs = append(w.msgs, good...)
	for i := 0; i < int(dupFrac*float64(len(good))); i++ {
		pos := r.IntN(len(w.msgs) + 1)
		w.msgs = append(w.msgs[:pos], append([]kafka.Message{good[r.IntN(len(good))]}, w.msgs[pos:]...)...)
	}
	// Each malformed record with the reason docs/events.md gives for it.
	bad := []struct{ msg, reason string }{
		{`{"event_id":`, "malformed_json"},
		{`not json`, "malformed_json"},
		{`{"event_id":"x","type":"purchase","customer_id":"cust-1","ts":"2011-01-01T00:00:00Z","items":[{"quantity":-1,"unit_price":1}]}`, "invalid_value"},
		{`{"event_id":"y","type":"visit","customer_id":"cust-2","ts":"2099-01-01T00:00:00Z"}`, "future_timestamp"},
		{"\xff\xfe", "invalid_utf8"},
		{`{"event_id":"z","type":"nope","customer_id":"cust-3","ts":"2011-01-01T00:00:00Z"}`, "invalid_value"},
	}
	w.reasons = map[string]int{}
	for i := 0; i < malformed; i++ {
		pos := r.IntN(len(w.msgs) + 1)
		b := bad[i%len(bad)]
		m := kafka.Message{Key: []byte(fmt.Sprintf("cust-%d", r.IntN(customers))), Value: []byte(b.msg)}
		w.msgs = append(w.msgs[:pos], append([]kafka.Message{m}, w.msgs[pos:]...)...)
		w.reasons[b.reason]++
	}
	w.malformed = malformed
	return w
}

func publish(t *testing.T, ctx context.Context, addr string, msgs []kafka.Message) {
	t.Helper()
	w := stream.NewWriter([]string{addr}, stream.DefaultEventsTopic, stream.WriterOptions{})
	defer w.Close()
	for i := 0; i < len(msgs); i += 500 {
		chunk := msgs[i:min(i+500, len(msgs))]
		for {
			err := w.WriteMessages(ctx, chunk...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("publishing: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// diff compares Redis with the oracle and returns the first few differences.
func diff(ctx context.Context, rdb redis.UniversalClient, want map[string]*expected) []string {
	st := features.NewStore(rdb, features.Config{})
	var out []string
	for c, e := range want {
		s, ok, err := st.Get(ctx, c)
		if err != nil {
			return []string{err.Error()}
		}
		if !ok {
			out = append(out, c+": missing")
		} else if int(s.Orders) != e.orders || int(s.Visits) != e.visits || int(s.Refunds) != e.refunds ||
			cents(s.Monetary) != cents(e.monetary) || cents(s.RefundAmount) != cents(e.refundAmount) ||
			s.FirstPurchase != e.first || s.LastPurchase != e.last || len(s.PurchaseDays) != len(e.days) {
			out = append(out, fmt.Sprintf("%s: orders %d/%d visits %d/%d refunds %d/%d monetary %.2f/%.2f days %d/%d last %d/%d",
				c, s.Orders, e.orders, s.Visits, e.visits, s.Refunds, e.refunds, s.Monetary, e.monetary, len(s.PurchaseDays), len(e.days), s.LastPurchase, e.last))
		}
		if len(out) >= 5 {
			break
		}
	}
	return out
}

func waitMatch(t *testing.T, ctx context.Context, rdb redis.UniversalClient, want map[string]*expected, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var d []string
	for time.Now().Before(deadline) {
		if d = diff(ctx, rdb, want); len(d) == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("features never matched the oracle; first differences:\n%s", strings.Join(d, "\n"))
}

// waitCommitted waits until the ingest group has committed every events record. Redis can match
// the oracle before the last batches' features and DLQ records are produced (the publish stage
// trails the apply stage, more so while it retries commits after a broker restart); a commit
// comes only after its batch's produce, so a fully committed group has published everything.
func waitCommitted(t *testing.T, ctx context.Context, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lag, err := stream.GroupLag(ctx, []string{addr}, stream.DefaultIngestGroup, stream.DefaultEventsTopic)
		total := int64(0)
		for _, n := range lag {
			total += n
		}
		if err == nil && total == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest group still %d records behind (err %v)", total, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countTopic(t *testing.T, ctx context.Context, addr, topic string) (n int, reasons map[string]int) {
	t.Helper()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	reasons = map[string]int{}
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		pc, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < last; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, h := range m.Headers {
				if h.Key == ingest.HeaderReason {
					reasons[string(h.Value)]++
				}
			}
		}
		r.Close()
	}
	return n, reasons
}

func startIngest(t *testing.T, ctx context.Context, addr string, rdb redis.UniversalClient, name string) (stop func()) {
	t.Helper()
	in, err := ingest.New(ingest.Options{Brokers: []string{addr}, BatchSize: 200, MaxBackoff: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler).With("ingest", name)}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest %s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestIngestExactlyOnceUnderFaults replays shuffled events with 10% duplicates and malformed
// records through a Redis crash, a second consumer joining and a broker restart, and checks
// every customer's features against the oracle and the DLQ against what was injected.
func TestIngestExactlyOnceUnderFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 6)
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() }) // registered first, so it runs after the ingests stop

	w := makeWorkload(1, 300, 12000, 0.10, 60)
	third := len(w.msgs) / 3
	publish(t, ctx, br.Address, w.msgs[:third])
	startIngest(t, ctx, br.Address, rdb, "a")

	time.Sleep(1500 * time.Millisecond) // mid-stream
	srv.Kill()
	publish(t, ctx, br.Address, w.msgs[third:2*third])
	time.Sleep(2 * time.Second) // ingest keeps failing against the dead server and must not commit
	srv.Start()

	startIngest(t, ctx, br.Address, rdb, "b") // a second member joins the group mid-stream
	time.Sleep(time.Second)
	br.Restart()
	publish(t, ctx, br.Address, w.msgs[2*third:])

	waitMatch(t, ctx, rdb, w.want, 3*time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	n, reasons := countTopic(t, ctx, br.Address, stream.DefaultDLQTopic)
	if n != w.malformed || !maps.Equal(reasons, w.reasons) {
		t.Fatalf("DLQ holds %d records with reasons %v, want the %d injected, %v", n, reasons, w.malformed, w.reasons)
	}
}

// TestIngestSIGKILLBetweenWriteAndCommit runs the real cmd/ingest binary, has it kill itself
// after Redis acknowledged batches but before their offsets were committed, restarts it, and
// checks the features are exact.
func TestIngestSIGKILLBetweenWriteAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ingest binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ingest")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "ingest")).CombinedOutput(); err != nil {
		t.Fatalf("building cmd/ingest: %v\n%s", err, out)
	}
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	w := makeWorkload(2, 200, 6000, 0.10, 0)
	publish(t, ctx, br.Address, w.msgs)

	run := func(crashAfter string) error {
		cmd := exec.CommandContext(ctx, bin, "--kafka", br.Address, "--redis", srv.Addr, "--http", "", "--batch-size", "100", "--log-level", "warn")
		cmd.Env = append(os.Environ(), "SEGSTREAM_FAULT_CRASH_AFTER_BATCHES="+crashAfter)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if crashAfter != "" {
			return cmd.Wait()
		}
		defer func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}()
		waitMatch(t, ctx, rdb, w.want, 2*time.Minute)
		return nil
	}
	err = run("5")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 || !strings.Contains(ee.String(), "killed") {
		t.Fatalf("ingest with the crash fault ended with %v, want killed by SIGKILL", err)
	}
	if d := diff(ctx, rdb, w.want); len(d) == 0 {
		t.Fatal("features already complete before the restart: the crash did not happen mid-stream")
	}
	run("")
}

// TestFeaturesTopicKeepsCustomerOrder reads the features topic back and checks that each
// customer's records come in state-version order: the scorer relies on it, and skips an older
// state that arrives after a newer one.
func TestFeaturesTopicKeepsCustomerOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	w := makeWorkload(3, 50, 20000, 0, 0) // few customers, many events each: every batch repeats them
	publish(t, ctx, br.Address, w.msgs)
	startIngest(t, ctx, br.Address, rdb, "a")
	waitMatch(t, ctx, rdb, w.want, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)

	conn, err := kafka.DialContext(ctx, "tcp", br.Address)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(stream.DefaultFeaturesTopic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]uint64{}
	records := 0
	for _, p := range parts {
		pc, err := kafka.DialLeader(ctx, "tcp", br.Address, stream.DefaultFeaturesTopic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		end, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{br.Address}, Topic: stream.DefaultFeaturesTopic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for off := int64(0); off < end; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var msg features.Message
			if err := json.Unmarshal(m.Value, &msg); err != nil {
				t.Fatal(err)
			}
			records++
			if v := msg.Features.StateVersion; v < last[msg.CustomerID] {
				t.Fatalf("customer %s: state version %d after %d at offset %d", msg.CustomerID, v, last[msg.CustomerID], m.Offset)
			}
			last[msg.CustomerID] = msg.Features.StateVersion
		}
		r.Close()
	}
	if records < 20000 {
		t.Fatalf("%d features records for 20000 events", records)
	}
}

// TestSamplesTopic checks the samples topic after a run with duplicates and malformed records:
// exactly one sample per applied visit or purchase (none for refunds, profiles, duplicated events
// or rejects), each holding the customer's state just before the event and the event's outcome.
func TestSamplesTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	w := makeWorkload(4, 40, 3000, 0.10, 12)

	// The oracle: a customer's events share a partition, so ingest applies them in publish
	// order; the first delivery of an event id applies, later ones are duplicates.
	type before struct{ orders, visits int64 }
	want := map[string]before{} // event id -> state before it
	wantEvents := map[string]*stream.Event{}
	seen := map[string]bool{}
	counts := map[string]*before{}
	for _, m := range w.msgs {
		var ev stream.Event
		if err := json.Unmarshal(m.Value, &ev); err != nil || ev.EventID == "" || ev.TS.Year() > 2020 || !strings.HasPrefix(ev.EventID, "ev-") {
			continue // malformed: rejected to the DLQ
		}
		if seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		c := counts[ev.CustomerID]
		if c == nil {
			c = &before{}
			counts[ev.CustomerID] = c
		}
		switch ev.Type {
		case stream.Purchase:
			want[ev.EventID] = *c
			c.orders++
		case stream.Visit:
			want[ev.EventID] = *c
			c.visits++
		}
		wantEvents[ev.EventID] = &ev
	}

	publish(t, ctx, br.Address, w.msgs)
	startIngest(t, ctx, br.Address, rdb, "a")
	waitMatch(t, ctx, rdb, w.want, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)

	got := map[string]bool{}
	purchasesSeen, laterPurchases := 0, 0
	for _, m := range readTopic(t, ctx, br.Address, stream.DefaultSamplesTopic) {
		s, err := features.DecodeSample(m.Value)
		if err != nil {
			t.Fatalf("sample at offset %d: %v", m.Offset, err)
		}
		if string(m.Key) != s.CustomerID {
			t.Fatalf("sample of %s keyed %q", s.CustomerID, m.Key)
		}
		b, ok := want[s.EventID]
		if !ok {
			t.Fatalf("sample for event %s (%s), which makes none", s.EventID, s.Type)
		}
		if got[s.EventID] {
			t.Fatalf("two samples for event %s", s.EventID)
		}
		got[s.EventID] = true
		ev := wantEvents[s.EventID]
		if s.Before.Orders != b.orders || s.Before.Visits != b.visits {
			t.Fatalf("event %s: sample before has orders %d visits %d, want %d and %d", s.EventID, s.Before.Orders, s.Before.Visits, b.orders, b.visits)
		}
		if s.Type != ev.Type || s.TS != ev.TS.UnixMilli() || s.CustomerID != ev.CustomerID || len(s.Prices) != len(ev.Prices) {
			t.Fatalf("event %s: sample %+v for event %+v", s.EventID, s, ev)
		}
		for _, e := range ev.Prices {
			if k, p := e.Brand, e.Price; s.Prices[k] != p {
				t.Fatalf("event %s: price of %s %v, want %v", s.EventID, k, s.Prices[k], p)
			}
		}
		if ev.Type == stream.Purchase {
			purchasesSeen++
			if b.orders > 0 {
				laterPurchases++
			}
			brand, qty, best := "", 0.0, -1.0
			for _, it := range ev.Items {
				qty += it.Quantity
				if it.Quantity > best {
					brand, best = it.Brand, it.Quantity
				}
			}
			if !s.Bought || s.Brand != brand || s.Quantity != qty || !s.Promotions["3"] {
				t.Fatalf("event %s: outcome bought=%v brand %q qty %v promotions %v, want brand %q qty %v", s.EventID, s.Bought, s.Brand, s.Quantity, s.Promotions, brand, qty)
			}
		} else if s.Bought || s.Quantity != 0 || s.Brand != "" {
			t.Fatalf("visit %s: outcome bought=%v brand %q qty %v", s.EventID, s.Bought, s.Brand, s.Quantity)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want one per applied visit or purchase: %d", len(got), len(want))
	}
	if purchasesSeen == 0 || laterPurchases == 0 || laterPurchases == purchasesSeen {
		t.Fatalf("workload too thin: %d purchase samples, %d after an earlier purchase", purchasesSeen, laterPurchases)
	}
}

// readTopic reads every record of topic.
func readTopic(t *testing.T, ctx context.Context, addr, topic string) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		pc, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		end, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for off := int64(0); off < end; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		r.Close()
	}
	return out
}

// TestIngestUnderDocumentedACL runs ingest as a Redis user holding only the ACL that
// docs/operations.md grants it, duplicates and malformed records included, so a command the
// code starts using (inside its scripts too) cannot go undocumented.
func TestIngestUnderDocumentedACL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t)
	rdb := srv.ACLClient(t, "segstream-ingest", testenv.DocumentedIngestACL(t))

	w := makeWorkload(3, 100, 3000, 0.10, 20)
	publish(t, ctx, br.Address, w.msgs)
	startIngest(t, ctx, br.Address, rdb, "acl")
	waitMatch(t, ctx, srv.Client(), w.want, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	if n, reasons := countTopic(t, ctx, br.Address, stream.DefaultDLQTopic); n != w.malformed || !maps.Equal(reasons, w.reasons) {
		t.Fatalf("DLQ holds %d records with reasons %v, want the %d injected, %v", n, reasons, w.malformed, w.reasons)
	}
}

// TestIngestNotReadyWhileStalled: a Redis out of memory under noeviction answers PING but
// refuses every write. Ingest keeps retrying (and commits nothing), and within StallAfter it
// reports not ready, naming the cause; once Redis takes writes again it catches up, matches the
// oracle and is ready again.
func TestIngestNotReadyWhileStalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 2)
	srv := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	w := makeWorkload(3, 100, 2000, 0, 0)
	half := len(w.msgs) / 2
	publish(t, ctx, br.Address, w.msgs[:half])

	in, err := ingest.New(ingest.Options{Brokers: []string{br.Address}, BatchSize: 200, MaxBackoff: 200 * time.Millisecond,
		StallAfter: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	ictx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	}()
	waitCommitted(t, ctx, br.Address, time.Minute)
	if err := in.Ready(); err != nil {
		t.Fatalf("caught up but not ready: %v", err)
	}

	// Out of memory: every write is refused, PING still answers.
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, br.Address, w.msgs[half:])
	var notReady error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if notReady = in.Ready(); notReady != nil {
			break
		}
	}
	if notReady == nil || !strings.Contains(notReady.Error(), "redis has rejected every batch") || !strings.Contains(notReady.Error(), "OOM") {
		t.Fatalf("ingest against a Redis refusing writes: ready error %v, want one naming the rejected writes", notReady)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("the fault must leave PING answering: %v", err)
	}
	// The group's offsets did not move past what was applied: the stall shows at the broker too.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := in.Ready(); err != nil && strings.Contains(err.Error(), "stalled") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no partition reported stalled: %v", in.Ready())
		}
	}

	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, ctx, rdb, w.want, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	for deadline := time.Now().Add(30 * time.Second); in.Ready() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("caught up after the fault but still not ready: %v", in.Ready())
		}
	}
}
