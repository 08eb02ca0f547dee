package shoppers

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/segstream/segstream/stream"
)

// Channel is a planted media channel. Each week it spends in on/off flights around Level, and
// it lifts every shopper's visit rate by the factor 1 + Σ_c Lift_c·hill(a_c), a_c the
// channel's geometric adstock (decay Decay, the current week and 8 before, as models/mmm
// reads it) and hill(a) = a^Shape/(a^Shape + HalfSat^Shape). Revenue then follows the visits,
// so a marketing-mix model of the weekly revenue and spend should find the planted carry-over
// and saturation (docs/demo.md).
type Channel struct {
	Name                  string
	Level                 float64 // mean weekly spend while a flight is on
	Decay, HalfSat, Shape float64
	Lift                  float64 // the visit-rate lift at full saturation
}

// DefaultMedia are three channels with short, medium and long carry-over.
var DefaultMedia = []Channel{
	{Name: "search", Level: 3000, Decay: 0.2, HalfSat: 3500, Shape: 1.2, Lift: 0.25},
	{Name: "social", Level: 2000, Decay: 0.45, HalfSat: 3000, Shape: 2.0, Lift: 0.2},
	{Name: "tv", Level: 8000, Decay: 0.7, HalfSat: 18000, Shape: 1.5, Lift: 0.3},
}

// mediaLag is the adstock's last lag, models/mmm's default.
const mediaLag = 8

// weekEpoch is where weeks are counted from: Monday 5 January 1970 00:00 UTC, as the period
// aggregates count them (features.PeriodEpoch), so a planted week is one period.
var weekEpoch = time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)

const week = 7 * 24 * time.Hour

// media is the planted channels' state.
type media struct {
	r       *rand.Rand
	week    int64       // index of the current week; math.MinInt64 before the first
	on      []bool      // whether each channel's flight is on
	spend   [][]float64 // per channel, the last mediaLag+1 weeks' spend, newest first
	lift    float64     // the current week's visit-rate factor
	maxLift float64     // 1 + Σ Lift: the most it can be
	queue   *byNext     // every customer, earliest next visit first
}

// byNext is a min-heap of customers by their next visit.
type byNext []*customer

func (h byNext) Len() int           { return len(h) }
func (h byNext) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h byNext) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byNext) Push(x any)        { *h = append(*h, x.(*customer)) }
func (h *byNext) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// earliest is the customer whose visit is next, starting the media on the first call.
func (g *Generator) earliest() *customer {
	if g.media == nil {
		g.media = newMedia(g.seed, g.Media)
		for _, c := range g.custs {
			c.next = g.now.Add(g.gap(c)) // at the media's highest rate, for thinning
		}
		q := byNext(slices.Clone(g.custs))
		heap.Init(&q)
		g.media.queue = &q
	}
	return (*g.media.queue)[0]
}

func newMedia(seed uint64, chans []Channel) *media {
	m := &media{r: rand.New(rand.NewPCG(seed, 0x6d656469)), week: math.MinInt64, on: make([]bool, len(chans)), maxLift: 1}
	for _, c := range chans {
		m.spend = append(m.spend, make([]float64, mediaLag+1))
		m.maxLift += c.Lift
	}
	for i := range m.on {
		m.on[i] = m.r.IntN(2) == 0
	}
	return m
}

// WeekSpend draws channel c's spend for one week: on/off flights that switch about every seven
// weeks, spend around Level while on and a trickle, half the time, while off.
func (m *media) weekSpend(c int, ch *Channel) float64 {
	if m.r.Float64() < 0.15 {
		m.on[c] = !m.on[c]
	}
	switch {
	case m.on[c]:
		return math.Round(ch.Level*(0.4+1.2*m.r.Float64())*100) / 100
	case m.r.Float64() < 0.5:
		return math.Round(ch.Level*0.3*m.r.Float64()*100) / 100
	}
	return 0
}

// advance moves the media to the week holding t, appending the spend events of every week it
// enters to dst.
func (g *Generator) advanceMedia(dst []stream.Event, t time.Time) []stream.Event {
	m := g.media
	w := int64(t.Sub(weekEpoch) / week)
	if m.week == math.MinInt64 {
		m.week = w - 1
	}
	for ; m.week < w; m.week++ {
		start := weekEpoch.Add(time.Duration(m.week+1) * week)
		m.lift = 1
		for c := range g.Media {
			ch := &g.Media[c]
			x := m.weekSpend(c, ch)
			copy(m.spend[c][1:], m.spend[c][:mediaLag])
			m.spend[c][0] = x
			if x > 0 {
				dst = append(dst, stream.Event{EventID: "gen-s-" + strconv.FormatInt(m.week+1, 36) + "-" + ch.Name, Type: stream.Spend,
					Channel: ch.Name, Amount: x, Currency: "EUR", TS: start.Add(time.Minute)})
			}
			a, d := 0.0, 1.0
			for _, s := range m.spend[c] {
				a += d * s
				d *= ch.Decay
			}
			m.lift += ch.Lift * PlantedHill(a, ch.HalfSat, ch.Shape)
		}
	}
	return dst
}

// PlantedHill is the saturation the channels are planted with: a^S/(a^S + K^S), 0 at a ≤ 0.
func PlantedHill(a, k, s float64) float64 {
	if a <= 0 {
		return 0
	}
	return 1 / (1 + math.Pow(k/a, s))
}

// keepVisit thins the visits drawn at the highest rate the media allow down to the current
// week's rate (exact for an inhomogeneous Poisson process).
func (g *Generator) keepVisit() bool {
	return g.media.r.Float64()*g.media.maxLift < g.media.lift
}
