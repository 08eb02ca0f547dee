// Package shoppers generates realistic synthetic shopping events: customers of a few archetypes
// who visit, see prices and promotions for five brands, buy with a probability that falls with
// price, choose a brand by a logit of price and loyalty, refund now and then, and fill in a
// profile. It feeds the demo and the benchmarks; docs/demo.md lists its parameters.
package shoppers

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/segstream/segstream/stream"
)

// Archetype is a kind of shopper.
type Archetype struct {
	Name         string
	Share        float64 // share of customers
	VisitsPerDay float64 // mean visit rate
	BaseBuy      float64 // purchase logit intercept at mean prices
	PriceSens    float64 // purchase logit slope on mean price (negative)
	PromoLift    float64 // purchase logit lift when a promotion runs
	Loyalty      float64 // brand-choice weight on the customer's favourite brand
	BrandPrice   float64 // brand-choice slope on the brand's price (negative)
	MeanQty      float64 // mean units per purchase
	RefundRate   float64 // chance a purchase is later refunded
	Age, Income  [2]float64
}

// DefaultArchetypes are four shopper kinds chosen to form recognisable segments.
var DefaultArchetypes = []Archetype{
	{Name: "bargain hunter", Share: 0.35, VisitsPerDay: 0.25, BaseBuy: -1.0, PriceSens: -2.5, PromoLift: 1.2, Loyalty: 0.2, BrandPrice: -3.0, MeanQty: 3, RefundRate: 0.02, Age: [2]float64{24, 40}, Income: [2]float64{60000, 110000}},
	{Name: "loyal regular", Share: 0.30, VisitsPerDay: 0.5, BaseBuy: 0.3, PriceSens: -0.8, PromoLift: 0.3, Loyalty: 2.5, BrandPrice: -0.8, MeanQty: 2, RefundRate: 0.01, Age: [2]float64{35, 60}, Income: [2]float64{90000, 160000}},
	{Name: "big spender", Share: 0.10, VisitsPerDay: 0.15, BaseBuy: 0.5, PriceSens: -0.3, PromoLift: 0.1, Loyalty: 1.0, BrandPrice: -0.2, MeanQty: 6, RefundRate: 0.05, Age: [2]float64{40, 65}, Income: [2]float64{180000, 320000}},
	{Name: "drifter", Share: 0.25, VisitsPerDay: 0.05, BaseBuy: -1.5, PriceSens: -1.5, PromoLift: 0.6, Loyalty: 0.5, BrandPrice: -1.5, MeanQty: 1.5, RefundRate: 0.03, Age: [2]float64{18, 70}, Income: [2]float64{40000, 200000}},
}

// BasePrices are the five brands' list prices; each visit sees them moved by up to ±20% and a
// promotion on a brand with probability PromoChance.
var BasePrices = [5]float64{1.39, 1.78, 2.01, 2.16, 2.65}

// PromoChance is the chance a brand is on promotion at a visit.
const PromoChance = 0.25

type customer struct {
	id       string
	arch     *Archetype
	favorite int
	next     time.Time
	profiled bool
	refunds  []stream.Event
}

// Generator emits events in event-time order. It is not safe for concurrent use.
type Generator struct {
	r     *rand.Rand
	arch  []Archetype
	custs []*customer
	now   time.Time
	seq   int64

	// Interactions is the chance that a visit comes with an interaction towards another
	// customer (0, the default, makes none, and the other events do not depend on it). The
	// customers are planted in circles of CircleSize consecutive ids: nine interactions in ten
	// stay in the circle, so the interaction graph has communities, and a fifth are referrals.
	Interactions float64
	// PriceFactor scales every brand's list price (0 is 1): a price change, which moves the
	// purchase and brand-choice rates as the archetypes' price sensitivities say.
	PriceFactor float64
	ri          *rand.Rand // the interactions' own stream, so the others stay as they were
	iseq        int64

	// Media are planted media channels (see Channel); nil, the default, spends nothing and
	// leaves every other event as it was. Set it before the first Next.
	Media []Channel
	media *media
	seed  uint64
}

// CircleSize is the size of the planted interaction circles (communities).
const CircleSize = 25

// interactionKinds are the kinds drawn, with referrals a fifth of them.
var interactionKinds = [...]string{"referral", "share", "share", "message", "message", "message", "reply", "gift", "referral", "share"}

// New returns a generator of n customers starting at start, deterministic for seed.
func New(seed uint64, n int, start time.Time) *Generator {
	g := &Generator{r: rand.New(rand.NewPCG(seed, 0x5e65)), ri: rand.New(rand.NewPCG(seed, 0x1a7e)), arch: DefaultArchetypes, now: start, seed: seed}
	for i := 0; i < n; i++ {
		a := g.pickArchetype()
		c := &customer{id: "s" + strconv.Itoa(100000+i), arch: a, favorite: g.r.IntN(5)}
		c.next = start.Add(g.gap(c))
		g.custs = append(g.custs, c)
	}
	return g
}

func (g *Generator) pickArchetype() *Archetype {
	u := g.r.Float64()
	for i := range g.arch {
		if u < g.arch[i].Share {
			return &g.arch[i]
		}
		u -= g.arch[i].Share
	}
	return &g.arch[len(g.arch)-1]
}

func (g *Generator) gap(c *customer) time.Duration {
	rate := c.arch.VisitsPerDay
	if g.media != nil {
		rate *= g.media.maxLift // thinned to the week's rate at the visit (keepVisit)
	}
	days := g.r.ExpFloat64() / rate
	return time.Duration(days * 24 * float64(time.Hour))
}

// Next appends the events of the next customer visit (a profile on first sight, the visit, maybe
// a purchase, maybe a due refund) to dst, after the spend events of any week it enters when
// Media are planted; a visit the week's media do not bring appends only those (maybe none). Customers are drawn by their next visit time, so
// the stream advances in event time without a priority queue: the earliest of a small random
// sample goes next, which keeps the generator O(1) per visit and the order nearly sorted.
func (g *Generator) Next(dst []stream.Event) []stream.Event {
	var c *customer
	if len(g.Media) > 0 {
		c = g.earliest()
		defer heap.Fix(g.media.queue, 0) // c.next moves on below
	} else {
		c = g.custs[g.r.IntN(len(g.custs))]
		for k := 0; k < 3; k++ {
			o := g.custs[g.r.IntN(len(g.custs))]
			if o.next.Before(c.next) {
				c = o
			}
		}
	}
	if c.next.After(g.now) {
		g.now = c.next
	}
	ts := g.now
	if len(g.Media) > 0 {
		dst = g.advanceMedia(dst, ts)
		if !g.keepVisit() {
			c.next = ts.Add(g.gap(c))
			return dst
		}
	}
	c.next = ts.Add(g.gap(c))
	a := c.arch
	if !c.profiled {
		c.profiled = true
		dst = append(dst, stream.Event{EventID: g.id(), Type: stream.Profile, CustomerID: c.id, TS: ts, Attributes: map[string]float64{
			"age":    math.Round(a.Age[0] + g.r.Float64()*(a.Age[1]-a.Age[0])),
			"income": math.Round(a.Income[0] + g.r.Float64()*(a.Income[1]-a.Income[0])),
		}})
	}
	if len(c.refunds) > 0 && !c.refunds[0].TS.After(ts) {
		dst = append(dst, c.refunds[0])
		c.refunds = c.refunds[1:]
	}
	prices := make(stream.Prices, 5) // brands "1" to "5": in order
	promos := make(stream.Promotions, 5)
	var mean, promoShare float64
	p := [5]float64{}
	pr := [5]bool{}
	for b := 0; b < 5; b++ {
		f := g.PriceFactor
		if f == 0 {
			f = 1
		}
		p[b] = math.Round(f*BasePrices[b]*(0.8+0.4*g.r.Float64())*100) / 100
		pr[b] = g.r.Float64() < PromoChance
		if pr[b] {
			p[b] = math.Round(p[b]*0.85*100) / 100
			promoShare += 0.2
		}
		mean += p[b] / 5
		prices[b] = stream.BrandPrice{Brand: strconv.Itoa(b + 1), Price: p[b]}
		promos[b] = stream.BrandPromotion{Brand: strconv.Itoa(b + 1), On: pr[b]}
	}
	dst = append(dst, stream.Event{EventID: g.id(), Type: stream.Visit, CustomerID: c.id, TS: ts, Prices: prices, Promotions: promos})
	if g.Interactions > 0 && len(g.custs) > 1 && g.ri.Float64() < g.Interactions {
		dst = append(dst, g.interaction(c, ts))
	}
	u := a.BaseBuy + a.PriceSens*(mean-2.0) + a.PromoLift*promoShare
	if g.r.Float64() < 1/(1+math.Exp(-u)) {
		var w [5]float64
		var sum float64
		for b := 0; b < 5; b++ {
			v := a.BrandPrice * p[b]
			if b == c.favorite {
				v += a.Loyalty
			}
			if pr[b] {
				v += 0.5
			}
			w[b] = math.Exp(v)
			sum += w[b]
		}
		x, brand := g.r.Float64()*sum, 4
		for b := 0; b < 5; b++ {
			if x < w[b] {
				brand = b
				break
			}
			x -= w[b]
		}
		qty := float64(1 + g.r.IntN(int(2*a.MeanQty)))
		buy := stream.Event{EventID: g.id(), Type: stream.Purchase, CustomerID: c.id, TS: ts.Add(time.Second), Currency: "EUR",
			Items:  []stream.Item{{SKU: fmt.Sprintf("bar-%d", brand+1), Brand: strconv.Itoa(brand + 1), Quantity: qty, UnitPrice: p[brand], Promotion: pr[brand]}},
			Prices: prices, Promotions: promos}
		buy.Amount = math.Round(qty*p[brand]*100) / 100
		dst = append(dst, buy)
		if g.r.Float64() < a.RefundRate {
			c.refunds = append(c.refunds, stream.Event{EventID: g.id(), Type: stream.Refund, CustomerID: c.id,
				TS: ts.Add(time.Duration(1+g.r.IntN(14)) * 24 * time.Hour), Amount: buy.Amount, OrderID: buy.EventID})
		}
	}
	return dst
}

// interaction is c's interaction at ts with a customer of her circle, or, one time in ten, any
// customer.
func (g *Generator) interaction(c *customer, ts time.Time) stream.Event {
	i, _ := strconv.Atoi(c.id[1:])
	i -= 100000
	var j int
	for j = i; j == i; {
		if g.ri.IntN(10) == 0 {
			j = g.ri.IntN(len(g.custs))
		} else {
			lo := i / CircleSize * CircleSize
			j = min(lo+g.ri.IntN(CircleSize), len(g.custs)-1)
		}
	}
	g.iseq++
	return stream.Event{EventID: "gen-i-" + strconv.FormatInt(g.iseq, 36), Type: stream.Interaction, CustomerID: c.id,
		TargetCustomerID: g.custs[j].id, Kind: interactionKinds[g.ri.IntN(len(interactionKinds))], Weight: 1, TS: ts.Add(2 * time.Second)}
}

func (g *Generator) id() string {
	g.seq++
	return "gen-" + strconv.FormatInt(g.seq, 36)
}

// Now is the generator's event-time clock.
func (g *Generator) Now() time.Time { return g.now }
