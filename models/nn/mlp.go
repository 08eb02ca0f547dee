// Package nn is the conversion model: a small multilayer perceptron for a binary outcome, two
// ReLU hidden layers and a sigmoid output, trained on binary cross-entropy with Adam in
// mini-batches, with early stopping on a validation set that restores the best weights.
//
// Training is deterministic for a seed (math/rand/v2 PCG drives the initial weights, the
// batch order and any down-sampling). The batched passes run on gonum mat; Prob scores one
// row with caller-owned scratch and allocates nothing.
package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Balance says how training copes with unequal classes.
type Balance int

const (
	// BalanceNone trains on the data as it is.
	BalanceNone Balance = iota
	// BalanceWeights weighs each row by n/(2·n_class), scikit-learn's "balanced" class
	// weights, in the training and validation losses.
	BalanceWeights
	// BalanceDownsample drops randomly chosen rows of the larger class from the training set
	// until the classes are equal.
	BalanceDownsample
)

// Config tunes Train. Zero fields take the defaults in brackets.
type Config struct {
	Hidden1, Hidden2 int     // units per hidden layer [50, 50]
	LearningRate     float64 // Adam step size [0.001]
	Beta1, Beta2     float64 // Adam moment decays [0.9, 0.999]
	Epsilon          float64 // Adam denominator guard [1e-8]
	// L2 penalises weights (not biases) by L2/2·‖W‖² per row of a batch, as scikit-learn's
	// alpha does; 0 turns it off.
	L2        float64
	BatchSize int // rows per Adam step [100]
	MaxEpochs int // [200]
	// Patience is the number of epochs without a validation-loss improvement of more than
	// MinDelta after which training stops [10]. Without validation data every epoch runs.
	Patience int
	MinDelta float64 // [0]
	Balance  Balance
	Seed     uint64
}

func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Hidden1, 50)
	def(&c.Hidden2, 50)
	def(&c.BatchSize, 100)
	def(&c.MaxEpochs, 200)
	def(&c.Patience, 10)
	deff(&c.LearningRate, 1e-3)
	deff(&c.Beta1, 0.9)
	deff(&c.Beta2, 0.999)
	deff(&c.Epsilon, 1e-8)
	switch {
	case c.Hidden1 < 0 || c.Hidden2 < 0 || c.BatchSize < 0 || c.MaxEpochs < 0 || c.Patience < 0:
		return c, errors.New("layer sizes, batch size, epochs and patience must be positive")
	case !(c.LearningRate > 0) || !(c.Beta1 > 0 && c.Beta1 < 1) || !(c.Beta2 > 0 && c.Beta2 < 1):
		return c, fmt.Errorf("Adam needs a positive learning rate and decays in (0,1), have %v, %v, %v", c.LearningRate, c.Beta1, c.Beta2)
	case c.L2 < 0 || c.MinDelta < 0:
		return c, errors.New("L2 and MinDelta must be ≥ 0")
	case c.Balance < BalanceNone || c.Balance > BalanceDownsample:
		return c, fmt.Errorf("unknown balance mode %d", c.Balance)
	}
	return c, nil
}

// MLP is a trained network: p(x) = σ(w3·relu(W2ᵀ·relu(W1ᵀx + b1) + b2) + b3).
type MLP struct {
	In, H1, H2 int
	// params holds every weight in one slice, so that Adam, snapshots and serialisation
	// work on one vector; W1 (In×H1), W2 (H1×H2) and W3 (H2×1) are views into it.
	params     []float64
	W1, W2, W3 *mat.Dense
	B1, B2     []float64
	B3         []float64 // one element
}

// layout cuts a flat parameter vector into the layers' views.
func layout(in, h1, h2 int, p []float64) (w1, w2, w3 *mat.Dense, b1, b2, b3 []float64) {
	o := 0
	take := func(n int) []float64 { s := p[o : o+n : o+n]; o += n; return s }
	w1 = mat.NewDense(in, h1, take(in*h1))
	b1 = take(h1)
	w2 = mat.NewDense(h1, h2, take(h1*h2))
	b2 = take(h2)
	w3 = mat.NewDense(h2, 1, take(h2))
	b3 = take(1)
	return
}

func nParams(in, h1, h2 int) int { return in*h1 + h1 + h1*h2 + h2 + h2 + 1 }

func newMLP(in, h1, h2 int, params []float64) *MLP {
	m := &MLP{In: in, H1: h1, H2: h2, params: params}
	m.W1, m.W2, m.W3, m.B1, m.B2, m.B3 = layout(in, h1, h2, params)
	return m
}

// Params returns a copy of all weights in the order W1 (row-major), b1, W2, b2, w3, b3.
func (m *MLP) Params() []float64 { return append([]float64(nil), m.params...) }

// FromParams rebuilds a network from the output of Params.
func FromParams(in, h1, h2 int, params []float64) (*MLP, error) {
	if in <= 0 || h1 <= 0 || h2 <= 0 || len(params) != nParams(in, h1, h2) {
		return nil, fmt.Errorf("%d parameters do not fit a %d-%d-%d-1 network", len(params), in, h1, h2)
	}
	return newMLP(in, h1, h2, append([]float64(nil), params...)), nil
}

// ScratchLen is the length of the scratch slice Prob needs.
func (m *MLP) ScratchLen() int { return m.H1 + m.H2 }

// Prob returns the probability of class 1 for one row x (length In). scratch must have at
// least ScratchLen elements; it is overwritten. Prob allocates nothing, so one scratch per
// goroutine serves any number of calls.
func (m *MLP) Prob(x, scratch []float64) float64 {
	h1, h2 := scratch[:m.H1:m.H1], scratch[m.H1:m.H1+m.H2]
	copy(h1, m.B1)
	w1 := m.W1.RawMatrix()
	for i, v := range x[:m.In] {
		row := w1.Data[i*w1.Stride : i*w1.Stride+m.H1]
		for j, w := range row {
			h1[j] += v * w
		}
	}
	copy(h2, m.B2)
	w2 := m.W2.RawMatrix()
	for i, v := range h1 {
		if v <= 0 {
			continue // relu
		}
		row := w2.Data[i*w2.Stride : i*w2.Stride+m.H2]
		for j, w := range row {
			h2[j] += v * w
		}
	}
	z := m.B3[0]
	w3 := m.W3.RawMatrix().Data
	for j, v := range h2 {
		if v > 0 {
			z += v * w3[j]
		}
	}
	return sigmoid(z)
}

// PredictProba returns the probabilities of class 1 for the rows of X, in batches.
func (m *MLP) PredictProba(X *mat.Dense) []float64 {
	n, _ := X.Dims()
	out := make([]float64, n)
	f := newPass(m, min(n, 512))
	for lo := 0; lo < n; lo += f.cap {
		hi := min(lo+f.cap, n)
		f.forward(X.Slice(lo, hi, 0, m.In).(*mat.Dense))
		copy(out[lo:hi], f.p.RawMatrix().Data[:hi-lo])
	}
	return out
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// pass holds the activations of one batch, allocated once for the largest batch and cut
// down for a smaller last batch.
type pass struct {
	m   *MLP
	cap int
	// a1 and a2 are the hidden layers after ReLU: their positive entries are also where
	// relu' is 1, so the pre-activations need no buffer of their own.
	a1, a2, p     *mat.Dense // batch × units
	d1, d2, dp    *mat.Dense // gradients of the loss w.r.t. the pre-activations
	ba1, ba2, bp  *mat.Dense // the views for the current batch size
	bd1, bd2, bdp *mat.Dense
	xb            *mat.Dense
	ones          []float64  // batch ones, for the bias gradients as matrix-vector products
	gW1, gW2, gW3 *mat.Dense // gradient views into one flat slice
	gB1, gB2, gB3 []float64
	grad          []float64
	curRows       int
}

func newPass(m *MLP, batch int) *pass {
	f := &pass{m: m, cap: batch}
	f.a1, f.d1 = mat.NewDense(batch, m.H1, nil), mat.NewDense(batch, m.H1, nil)
	f.a2, f.d2 = mat.NewDense(batch, m.H2, nil), mat.NewDense(batch, m.H2, nil)
	f.p, f.dp = mat.NewDense(batch, 1, nil), mat.NewDense(batch, 1, nil)
	f.ones = make([]float64, batch)
	for i := range f.ones {
		f.ones[i] = 1
	}
	f.grad = make([]float64, len(m.params))
	f.gW1, f.gW2, f.gW3, f.gB1, f.gB2, f.gB3 = layout(m.In, m.H1, m.H2, f.grad)
	return f
}

// size points the batch views at the first n rows.
func (f *pass) size(n int) {
	if n == f.curRows {
		return
	}
	f.curRows = n
	cut := func(d *mat.Dense) *mat.Dense {
		_, c := d.Dims()
		return d.Slice(0, n, 0, c).(*mat.Dense)
	}
	f.ba1, f.bd1 = cut(f.a1), cut(f.d1)
	f.ba2, f.bd2 = cut(f.a2), cut(f.d2)
	f.bp, f.bdp = cut(f.p), cut(f.dp)
}

// layer sets a = relu(x·w + b): the bias rows first, so that one product adds onto them.
func layer(x, w *mat.Dense, b []float64, a *mat.Dense) {
	ra := a.RawMatrix()
	for i := 0; i < ra.Rows; i++ {
		copy(ra.Data[i*ra.Stride:i*ra.Stride+ra.Cols], b)
	}
	gemm(false, x, false, w, 1, a)
	for i := 0; i < ra.Rows; i++ {
		relu(ra.Data[i*ra.Stride : i*ra.Stride+ra.Cols])
	}
}

// relu zeroes the negative entries of v without branches: the signs of a hidden layer are
// close to a coin toss, and a mispredicted branch per entry cost more than the products.
func relu(v []float64) {
	for j, x := range v {
		b := math.Float64bits(x)
		v[j] = math.Float64frombits(b &^ uint64(int64(b)>>63))
	}
}

// maskBy zeroes d where a, a ReLU output (≥ 0), is zero: the chain rule through relu.
func maskBy(d, a []float64) {
	a = a[:len(d)]
	for j, x := range a {
		b := math.Float64bits(x)
		keep := uint64(int64(b|-b) >> 63) // all ones when a > 0
		d[j] = math.Float64frombits(math.Float64bits(d[j]) & keep)
	}
}

// forward computes the output probabilities of the rows of x into f.bp.
func (f *pass) forward(x *mat.Dense) {
	n, _ := x.Dims()
	f.size(n)
	f.xb = x
	m := f.m
	layer(x, m.W1, m.B1, f.ba1)
	layer(f.ba1, m.W2, m.B2, f.ba2)
	gemm(false, f.ba2, false, m.W3, 0, f.bp)
	p := f.bp.RawMatrix()
	for i := 0; i < n; i++ {
		p.Data[i*p.Stride] = sigmoid(p.Data[i*p.Stride] + m.B3[0])
	}
}

// backward fills f.grad with the gradient of scale·Σ w_i·bce_i over the rows last passed
// forward, and returns that loss. Training passes scale = 1/(rows in the whole batch), so
// the gradients of the shards of one batch add up to the batch's.
func (f *pass) backward(y, w []float64, scale float64) float64 {
	m := f.m
	n := f.curRows
	p := f.bp.RawMatrix()
	dp := f.bdp.RawMatrix()
	var loss float64
	for i := 0; i < n; i++ {
		pi := p.Data[i*p.Stride]
		loss += w[i] * bce(y[i], pi)
		// The sigmoid and the cross-entropy cancel to p − y.
		dp.Data[i*dp.Stride] = w[i] * (pi - y[i]) * scale
	}
	loss *= scale
	ones := f.ones[:n]
	// Output layer.
	gemm(true, f.ba2, false, f.bdp, 0, f.gW3)
	f.gB3[0] = 0
	for i := 0; i < n; i++ {
		f.gB3[0] += dp.Data[i*dp.Stride]
	}
	// Second hidden layer: d2 = (dp·w3ᵀ) ⊙ relu'(z2), an outer product.
	w3 := m.W3.RawMatrix().Data[:m.H2]
	d2, a2 := f.bd2.RawMatrix(), f.ba2.RawMatrix()
	for i := 0; i < n; i++ {
		row := d2.Data[i*d2.Stride : i*d2.Stride+m.H2]
		g := dp.Data[i*dp.Stride]
		for j, v := range w3 {
			row[j] = g * v
		}
		maskBy(row, a2.Data[i*a2.Stride:])
	}
	gemm(true, f.ba1, false, f.bd2, 0, f.gW2)
	colSum(f.gB2, f.bd2, ones)
	// First hidden layer.
	gemm(false, f.bd2, true, m.W2, 0, f.bd1)
	d1, a1 := f.bd1.RawMatrix(), f.ba1.RawMatrix()
	for i := 0; i < n; i++ {
		maskBy(d1.Data[i*d1.Stride:i*d1.Stride+m.H1], a1.Data[i*a1.Stride:])
	}
	gemm(true, f.xb, false, f.bd1, 0, f.gW1)
	colSum(f.gB1, f.bd1, ones)
	return loss
}

// addL2 adds the gradient of c/2·‖W‖² (weights only, not biases) to f.grad and returns the
// penalty.
func (f *pass) addL2(c float64) float64 {
	if c == 0 {
		return 0
	}
	m := f.m
	var sq float64
	for _, pair := range [][2]*mat.Dense{{f.gW1, m.W1}, {f.gW2, m.W2}, {f.gW3, m.W3}} {
		g, wt := pair[0].RawMatrix().Data, pair[1].RawMatrix().Data
		for k, v := range wt {
			g[k] += c * v
			sq += v * v
		}
	}
	return c / 2 * sq
}

func bce(y, p float64) float64 {
	const eps = 1e-15
	p = min(max(p, eps), 1-eps)
	if y == 1 {
		return -math.Log(p)
	}
	if y == 0 {
		return -math.Log1p(-p)
	}
	return -(y*math.Log(p) + (1-y)*math.Log1p(-p))
}

// newRand is the generator of one training run: PCG seeded from the user's seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
