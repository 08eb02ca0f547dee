package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rivo/uniseg"

	"github.com/segstream/segstream/retrainer"
)

// The demo shows what it does in one of two ways, both fed by the read API the dashboard polls
// (so the terminal and the browser never disagree): a screen redrawn in place every second when
// stdout is a terminal (liveView), or one structured log line every ten seconds when it is not
// (logView).

// snapshot is one poll of the read API.
type snapshot struct {
	at                        time.Time
	ingested, scored, changes float64 // counters, summed over their series
	ingestLag, scorerLag      float64
	hasIngest, hasScorer      bool
	model                     uint64
	modelBuilt                time.Time
	segments                  []segmentSize
	recent                    []change
	refits                    []retrainer.RunStatus
	err                       string // the first request that failed, for the status line
}

type segmentSize struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

type change struct {
	Customer string `json:"customer_id"`
	From     int    `json:"from"`
	To       int    `json:"to"`
	Model    uint64 `json:"model_version"`
	TSMS     int64  `json:"ts_ms"`
}

// poller reads the API at base and keeps the last few seconds of counters for rates.
type poller struct {
	base   string
	client *http.Client
	window []snapshot // the last rateWindow of polls, oldest first
}

// rateWindow is how far back rates look: long enough to smooth the lanes' batching, short
// enough that a burst or a stall shows within seconds.
const rateWindow = 5 * time.Second

func newPoller(apiAddr string) *poller {
	host := apiAddr
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	return &poller{base: "http://" + host, client: &http.Client{Timeout: 2 * time.Second}}
}

func (p *poller) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	if w, ok := v.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// poll reads everything once. A model that is not there yet (503 before the first bundle) is
// not an error; the fields stay empty.
func (p *poller) poll(ctx context.Context) snapshot {
	s := snapshot{at: time.Now()}
	fail := func(err error) {
		if err != nil && s.err == "" && ctx.Err() == nil {
			s.err = err.Error()
		}
	}
	var metrics strings.Builder
	if err := p.get(ctx, "/v1/dashboard/metrics", &metrics); err != nil {
		fail(err)
	} else {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(strings.NewReader(metrics.String()))
		fail(err)
		sum := func(name string) (float64, bool) {
			mf, ok := mfs[name]
			if !ok {
				return 0, false
			}
			var t float64
			for _, m := range mf.GetMetric() {
				t += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			return t, true
		}
		s.ingested, _ = sum("segstream_ingest_events_applied_total")
		s.scored, _ = sum("segstream_scorer_events_scored_total")
		s.changes, _ = sum("segstream_scorer_segment_changes_total")
		s.ingestLag, s.hasIngest = sum("segstream_ingest_consumer_lag_records")
		s.scorerLag, s.hasScorer = sum("segstream_scorer_consumer_lag_records")
	}
	var m struct {
		Version uint64    `json:"model_version"`
		Created time.Time `json:"created"`
	}
	if err := p.get(ctx, "/v1/model", &m); err == nil {
		s.model, s.modelBuilt = m.Version, m.Created
		var segs struct {
			Segments []segmentSize `json:"segments"`
		}
		fail(p.get(ctx, "/v1/segments", &segs))
		s.segments = segs.Segments
	}
	var ch struct {
		Changes []change `json:"changes"`
	}
	fail(p.get(ctx, "/v1/changes?limit=5", &ch))
	s.recent = ch.Changes
	var st struct {
		Runs []retrainer.RunStatus `json:"runs"`
	}
	if p.get(ctx, "/v1/retrainer/status", &st) == nil {
		s.refits = st.Runs
	}
	p.window = append(p.window, s)
	for len(p.window) > 2 && s.at.Sub(p.window[1].at) >= rateWindow {
		p.window = p.window[1:]
	}
	return s
}

// rates are the counters' rates per second over the window.
func (p *poller) rates() (ingested, scored, changes float64) {
	if len(p.window) < 2 {
		return 0, 0, 0
	}
	a, b := p.window[0], p.window[len(p.window)-1]
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 {
		return 0, 0, 0
	}
	r := func(x, y float64) float64 { return max(0, y-x) / dt }
	return r(a.ingested, b.ingested), r(a.scored, b.scored), r(a.changes, b.changes)
}

// screenLines lays the snapshot out as at most height lines of at most width cells.
func screenLines(s snapshot, ingested, scored, changes float64, status statusLine, width, height int) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	add("segstream demo · up %s · published %s events · event clock %s", status.up.Round(time.Second), group(float64(status.published)), status.clock)
	add("dashboard http://%s/ · q or Ctrl-C stops · log in %s", status.api, status.logFile)
	add("")
	add("events ingested %9s/s   scored %9s/s   segment changes %7s/s   (last %s)",
		group(ingested), group(scored), oneDecimal(changes), rateWindow)
	lag := func(v float64, ok bool) string {
		if !ok {
			return "–"
		}
		return group(v)
	}
	add("consumer lag     ingest %s records, scorer %s records", lag(s.ingestLag, s.hasIngest), lag(s.scorerLag, s.hasScorer))
	if s.model == 0 {
		add("model            none yet: the retrainer fits the first once the history is in")
	} else {
		add("model            v%d, %d segments, built %s ago", s.model, len(s.segments), time.Since(s.modelBuilt).Round(time.Second))
	}
	add("")
	if len(s.segments) > 0 {
		add("SEGMENTS (live sizes)")
		var top int64
		for _, g := range s.segments {
			top = max(top, g.Size)
		}
		nameW := 34
		barW := max(10, width-nameW-16)
		for _, g := range s.segments {
			n := 0
			if top > 0 {
				n = int(float64(barW) * float64(g.Size) / float64(top))
			}
			add(" %-*s %s%s %9s", nameW, fit(fmt.Sprintf("%d %s", g.ID, g.Name), nameW), strings.Repeat("█", n), strings.Repeat("·", barW-n), group(float64(g.Size)))
		}
		add("")
	}
	names := map[int]string{-1: "(new)"}
	for _, g := range s.segments {
		names[g.ID] = g.Name
	}
	name := func(id int) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "#" + strconv.Itoa(id)
	}
	add("LATEST SEGMENT CHANGES")
	if len(s.recent) == 0 {
		add(" none yet")
	}
	for _, c := range s.recent {
		add(" %s  %-10s %s → %s (v%d)", time.UnixMilli(c.TSMS).Format("15:04:05"), fit(c.Customer, 10), name(c.From), name(c.To), c.Model)
	}
	add("")
	add("REFITS")
	if len(s.refits) == 0 {
		add(" none yet")
	}
	for _, r := range s.refits[:min(3, len(s.refits))] {
		line := fmt.Sprintf(" %s  v%d %s (%s), k=%d over %s customers", r.Started.Local().Format("15:04:05"), r.Version, r.Result, r.Trigger, r.K, group(float64(r.Rows)))
		if len(r.Reasons) > 0 {
			line += ": " + strings.Join(r.Reasons, "; ")
		}
		add("%s", line)
	}
	if s.err != "" {
		add("")
		add("! %s", s.err)
	}
	for i := range out {
		out[i] = fit(out[i], width)
	}
	if len(out) > height {
		out = out[:height]
	}
	return out
}

// statusLine is what the view knows besides the API: uptime, events published, the clock.
type statusLine struct {
	up        time.Duration
	published int64
	clock     string
	api       string
	logFile   string
}

// fit cuts s to at most w cells (grapheme clusters measured by uniseg, as tcell draws them),
// marking a cut with "…".
func fit(s string, w int) string {
	if uniseg.StringWidth(s) <= w {
		return s
	}
	var b strings.Builder
	used := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		if used+g.Width() > w-1 {
			break
		}
		used += g.Width()
		b.WriteString(g.Str())
	}
	return b.String() + "…"
}

// group writes a whole number with thousands separators.
func group(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func oneDecimal(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// liveView draws the screen every second until ctx ends or the user presses q, Esc or Ctrl-C
// (the screen reads the keyboard, so Ctrl-C arrives as a key, not a signal): then it calls stop.
//
// tcell (github.com/gdamore/tcell/v2, the terminal layer under k9s' tview) rather than
// hand-written escape codes: it reads the terminal's capabilities from terminfo, keeps a
// back buffer so a redraw sends only the cells that changed, restores the terminal on exit and
// reports resizes; a full UI framework (bubbletea, tview) would add an event architecture a
// read-only screen does not need.
func liveView(ctx context.Context, screen tcell.Screen, p *poller, status func() statusLine, stop func()) error {
	if err := screen.Init(); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer screen.Fini()
	events := make(chan tcell.Event, 8)
	quit := make(chan struct{})
	defer close(quit)
	go screen.ChannelEvents(events, quit)
	draw := func() {
		s := p.poll(ctx)
		in, sc, ch := p.rates()
		w, h := screen.Size()
		screen.Clear()
		for y, line := range screenLines(s, in, sc, ch, status(), w, h) {
			style := tcell.StyleDefault
			if y == 0 || line == strings.ToUpper(line) && line != "" && !strings.HasPrefix(line, " ") {
				style = style.Bold(true)
			}
			x := 0
			g := uniseg.NewGraphemes(line)
			for g.Next() {
				rs := g.Runes()
				screen.SetContent(x, y, rs[0], rs[1:], style)
				x += g.Width()
			}
		}
		screen.Show()
	}
	draw()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			draw()
		case ev := <-events:
			switch ev := ev.(type) {
			case *tcell.EventResize:
				screen.Sync()
				draw()
			case *tcell.EventKey:
				if ev.Key() == tcell.KeyCtrlC || ev.Key() == tcell.KeyEscape || ev.Rune() == 'q' {
					stop()
					return nil
				}
			}
		}
	}
}

// logView writes one structured line every ten seconds: rates, lag, the model and the segment
// sizes, for a log collector or a pipe.
func logView(ctx context.Context, w io.Writer, p *poller, status func() statusLine) {
	log := slog.New(slog.NewTextHandler(w, nil))
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	p.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := p.poll(ctx)
		in, sc, ch := p.rates()
		sizes := make([]string, len(s.segments))
		for i, g := range s.segments {
			sizes[i] = strconv.Itoa(g.ID) + ":" + strconv.FormatInt(g.Size, 10)
		}
		st := status()
		attrs := []any{"published", st.published, "event_clock", st.clock,
			"ingested_per_s", int64(in), "scored_per_s", int64(sc), "changes_per_s", ch,
			"ingest_lag", int64(s.ingestLag), "scorer_lag", int64(s.scorerLag), "model", s.model, "segments", strings.Join(sizes, " ")}
		if s.err != "" {
			attrs = append(attrs, "err", s.err)
		}
		log.Info("demo", attrs...)
	}
}
