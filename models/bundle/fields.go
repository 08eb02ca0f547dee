package bundle

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Field identifies one scalar feature the scorer computes for every customer; Input.Fields is
// indexed by it. The names match features.Vector's JSON and the export CSV's columns.
type Field int

// The scalar features. Day counts are -1 for a customer who never bought.
const (
	RecencyDays Field = iota
	TDays
	Frequency
	PurchaseDays
	Monetary // net of refunds, floored at zero
	GrossMonetary
	AvgOrderValue
	Items
	Quantity
	AvgUnitPrice
	PromoShare
	Refunds
	RefundAmount
	Visits
	PurchaseIncidence
	LastQuantity
	DistinctBrands
	// The interaction graph (features/graph.go): neighbours the customer acted towards and
	// heard from, and distinct neighbours either way (counted among the contacts kept), interactions made and received, their
	// summed weight both ways, and referrals made.
	OutDegree
	InDegree
	Contacts
	InteractionsOut
	InteractionsIn
	InteractionWeight
	ReferralsMade
	// NumBuiltin is the number of built-in fields; RegisterField adds more after them.
	NumBuiltin
)

// MaxFields bounds the scalar features, built-in and registered: Input.Fields is an array of
// this size so that filling one allocates nothing.
const MaxFields = 64

// FieldNames are the names of the scalar features, indexed by Field: the built-in ones, then
// those RegisterField added.
var FieldNames = []string{
	"recency_days", "t_days", "frequency", "purchase_days", "monetary", "gross_monetary", "avg_order_value",
	"items", "quantity", "avg_unit_price", "promo_share", "refunds", "refund_amount", "visits",
	"purchase_incidence", "last_quantity", "distinct_brands",
	"out_degree", "in_degree", "contacts", "interactions_out", "interactions_in", "interaction_weight", "referrals_made",
}

// RegisterField adds a scalar feature by name and returns its index in Input.Fields. The
// feature table (features.Register) calls it, so that a feature defined there is one a bundle
// can name; it must run before any bundle is compiled (at init), and panics on a name taken
// or past MaxFields.
func RegisterField(name string) Field {
	if slices.Contains(FieldNames, name) {
		panic("bundle: feature " + strconv.Quote(name) + " registered twice")
	}
	if len(FieldNames) >= MaxFields {
		panic("bundle: more than MaxFields scalar features")
	}
	FieldNames = append(FieldNames, name)
	return Field(len(FieldNames) - 1)
}

// Window is one trailing window's purchases and spend.
type Window struct {
	Days      int
	Purchases float64
	Spend     float64
}

// Input is what the scorer knows of a customer at one event: the scalar features, the
// trailing windows, and the event's price context (nil maps when it had none). The scorer
// reuses one Input per goroutine; Score only reads it.
type Input struct {
	Fields     [MaxFields]float64 // indexed by Field; len(FieldNames) of them are used
	Windows    []Window
	Prices     map[string]float64
	Promotions map[string]bool
}

// source says where one named feature comes from: a scalar field, or a window's purchases or
// spend.
type source struct {
	field Field
	days  int // > 0 for a window feature
	spend bool
	log1p bool
}

// resolve maps a feature name onto what the scorer computes; the error says what the scorer
// can compute instead.
func resolve(name string) (source, error) {
	for i, n := range FieldNames {
		if n == name {
			return source{field: Field(i)}, nil
		}
	}
	for _, kind := range []string{"purchases_", "spend_"} {
		if rest, ok := strings.CutPrefix(name, kind); ok {
			if d, ok := strings.CutSuffix(rest, "d"); ok {
				if n, err := strconv.Atoi(d); err == nil && n > 0 && n <= 3650 {
					return source{days: n, spend: kind == "spend_"}, nil
				}
			}
		}
	}
	return source{}, fmt.Errorf("unknown feature %q: the scorer computes %s, purchases_<days>d and spend_<days>d",
		name, strings.Join(FieldNames, ", "))
}

// CheckFeatures reports whether every name is a feature this code computes, and with which
// windows (days) the scorer's ingest must be configured for the window features.
func CheckFeatures(names []string) (windows []int, err error) {
	for _, n := range names {
		s, err := resolve(n)
		if err != nil {
			return nil, err
		}
		if s.days > 0 {
			windows = append(windows, s.days)
		}
	}
	return windows, nil
}

// WindowFeature names a trailing window's feature: purchases_<days>d, or spend_<days>d.
func WindowFeature(days int, spend bool) string {
	if spend {
		return "spend_" + strconv.Itoa(days) + "d"
	}
	return "purchases_" + strconv.Itoa(days) + "d"
}

// value reads the feature from in; a window the input lacks reads as 0.
func (s *source) value(in *Input) float64 {
	var v float64
	if s.days == 0 {
		v = in.Fields[s.field]
	} else {
		for i := range in.Windows {
			if in.Windows[i].Days == s.days {
				if s.spend {
					v = in.Windows[i].Spend
				} else {
					v = in.Windows[i].Purchases
				}
				break
			}
		}
	}
	if s.log1p {
		v = log1p(v)
	}
	return v
}
