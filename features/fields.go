package features

import (
	"github.com/segstream/segstream/models/bundle"
)

// Kind says how a feature field is written: as an integer, as whole days (-1, exported as an
// empty cell, when the customer never bought), as money to the cent, or as any number.
type Kind uint8

// Kinds of feature fields.
const (
	Count Kind = iota
	Days
	Money
	Real
)

// Field is one scalar feature a model can take: its name (bundle.FieldNames), how it is written,
// how it is read from a Vector (the encoders) and set in one (the decoders), and, for a
// registered feature, how it is computed from the customer's state at the clock.
type Field struct {
	Name  string
	Kind  Kind
	Get   func(v *Vector) float64
	Set   func(v *Vector, x float64)
	Value func(s *State, asOfMS int64) float64 // registered features; the built-in ones are filled by fillVector
}

// Fields is the table of scalar model inputs, indexed by bundle.Field. Everything that turns a
// customer's features into model input reads it: the features record's encoder, the CSV export,
// the retrainer's training rows and the scorer's live input (FillInput). So the row a model is
// trained on and the row it scores live are one function of (state, clock): State.fillVector,
// then this table. A new feature computed from the state is one call of Register (its row);
// one that needs a new accumulator also needs that accumulator's update rule in State.apply and
// its place in the codec. The built-in rows below predate Register; they keep their named
// Vector fields, and bundle.FieldNames lists them in the same order (a test checks).
var Fields = []Field{
	bundle.RecencyDays:       {"recency_days", Days, func(v *Vector) float64 { return float64(v.RecencyDays) }, func(v *Vector, x float64) { v.RecencyDays = int64(x) }, nil},
	bundle.TDays:             {"t_days", Days, func(v *Vector) float64 { return float64(v.TDays) }, func(v *Vector, x float64) { v.TDays = int64(x) }, nil},
	bundle.Frequency:         {"frequency", Count, func(v *Vector) float64 { return float64(v.Frequency) }, func(v *Vector, x float64) { v.Frequency = int64(x) }, nil},
	bundle.PurchaseDays:      {"purchase_days", Count, func(v *Vector) float64 { return float64(v.PurchaseDays) }, func(v *Vector, x float64) { v.PurchaseDays = int64(x) }, nil},
	bundle.Monetary:          {"monetary", Money, func(v *Vector) float64 { return v.Monetary }, func(v *Vector, x float64) { v.Monetary = x }, nil},
	bundle.GrossMonetary:     {"gross_monetary", Money, func(v *Vector) float64 { return v.GrossMonetary }, func(v *Vector, x float64) { v.GrossMonetary = x }, nil},
	bundle.AvgOrderValue:     {"avg_order_value", Real, func(v *Vector) float64 { return v.AvgOrderValue }, func(v *Vector, x float64) { v.AvgOrderValue = x }, nil},
	bundle.Items:             {"items", Count, func(v *Vector) float64 { return float64(v.Items) }, func(v *Vector, x float64) { v.Items = int64(x) }, nil},
	bundle.Quantity:          {"quantity", Real, func(v *Vector) float64 { return v.Quantity }, func(v *Vector, x float64) { v.Quantity = x }, nil},
	bundle.AvgUnitPrice:      {"avg_unit_price", Real, func(v *Vector) float64 { return v.AvgUnitPrice }, func(v *Vector, x float64) { v.AvgUnitPrice = x }, nil},
	bundle.PromoShare:        {"promo_share", Real, func(v *Vector) float64 { return v.PromoShare }, func(v *Vector, x float64) { v.PromoShare = x }, nil},
	bundle.Refunds:           {"refunds", Count, func(v *Vector) float64 { return float64(v.Refunds) }, func(v *Vector, x float64) { v.Refunds = int64(x) }, nil},
	bundle.RefundAmount:      {"refund_amount", Money, func(v *Vector) float64 { return v.RefundAmount }, func(v *Vector, x float64) { v.RefundAmount = x }, nil},
	bundle.Visits:            {"visits", Count, func(v *Vector) float64 { return float64(v.Visits) }, func(v *Vector, x float64) { v.Visits = int64(x) }, nil},
	bundle.PurchaseIncidence: {"purchase_incidence", Real, func(v *Vector) float64 { return v.PurchaseIncidence }, func(v *Vector, x float64) { v.PurchaseIncidence = x }, nil},
	bundle.LastQuantity:      {"last_quantity", Real, func(v *Vector) float64 { return v.LastQuantity }, func(v *Vector, x float64) { v.LastQuantity = x }, nil},
	bundle.DistinctBrands:    {"distinct_brands", Count, func(v *Vector) float64 { return float64(v.DistinctBrands) }, func(v *Vector, x float64) { v.DistinctBrands = int64(x) }, nil},
	bundle.OutDegree:         {"out_degree", Count, func(v *Vector) float64 { return float64(v.OutDegree) }, func(v *Vector, x float64) { v.OutDegree = int64(x) }, nil},
	bundle.InDegree:          {"in_degree", Count, func(v *Vector) float64 { return float64(v.InDegree) }, func(v *Vector, x float64) { v.InDegree = int64(x) }, nil},
	bundle.Contacts:          {"contacts", Count, func(v *Vector) float64 { return float64(v.Contacts) }, func(v *Vector, x float64) { v.Contacts = int64(x) }, nil},
	bundle.InteractionsOut:   {"interactions_out", Count, func(v *Vector) float64 { return float64(v.InteractionsOut) }, func(v *Vector, x float64) { v.InteractionsOut = int64(x) }, nil},
	bundle.InteractionsIn:    {"interactions_in", Count, func(v *Vector) float64 { return float64(v.InteractionsIn) }, func(v *Vector, x float64) { v.InteractionsIn = int64(x) }, nil},
	bundle.InteractionWeight: {"interaction_weight", Real, func(v *Vector) float64 { return v.InteractionWeight }, func(v *Vector, x float64) { v.InteractionWeight = x }, nil},
	bundle.ReferralsMade:     {"referrals_made", Count, func(v *Vector) float64 { return float64(v.ReferralsMade) }, func(v *Vector, x float64) { v.ReferralsMade = int64(x) }, nil},
}

// Register adds the scalar feature name, of kind, computed from a customer's state s at the
// event-time clock asOfMS by value: the one row a new feature needs. From then on the features
// record and the read API carry it, the scorer's decoder reads it, the CSV export writes it and
// ReadColumnsCSV reads it, and a bundle may name it as a model input (bundle.RegisterField).
// Call it at init, before any store, scorer or bundle is made; it panics on a name taken.
func Register(name string, kind Kind, value func(s *State, asOfMS int64) float64) {
	i := int(bundle.RegisterField(name)) - int(bundle.NumBuiltin)
	Fields = append(Fields, Field{Name: name, Kind: kind, Value: value,
		Get: func(v *Vector) float64 { return v.Extra[i] },
		Set: func(v *Vector, x float64) { v.Extra[i] = x }})
	fieldKeys = append(fieldKeys, `,"`+name+`":`)
	fieldPrints = append(fieldPrints, schemaPrint(len(Fields)))
}

// FillInput maps v onto a model's input without allocating (in's window slice is reused). The
// price context is left as it was.
func (v *Vector) FillInput(in *bundle.Input) {
	for i := range Fields {
		in.Fields[i] = Fields[i].Get(v)
	}
	in.Windows = in.Windows[:0]
	for _, w := range v.Windows {
		in.Windows = append(in.Windows, bundle.Window{Days: w.Days, Purchases: float64(w.Purchases), Spend: w.Spend})
	}
}

// WindowColumns are the column names of the trailing windows' purchases and spend, in the order
// Vector.Windows holds them: purchases_<d>d then spend_<d>d for each window.
func WindowColumns(windows []int) []string {
	out := make([]string, 0, 2*len(windows))
	for _, w := range windows {
		out = append(out, bundle.WindowFeature(w, false), bundle.WindowFeature(w, true))
	}
	return out
}

// FieldIndex returns the index in Fields of the field named name, or -1.
func FieldIndex(name string) int {
	for i := range Fields {
		if Fields[i].Name == name {
			return i
		}
	}
	return -1
}
