package nn

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// History records a training run.
type History struct {
	TrainLoss []float64 // mean training loss of each epoch, over its batches
	ValLoss   []float64 // validation loss after each epoch; empty without validation data
	// Epochs is the number of epochs run; BestEpoch (1-based) is the one whose weights were
	// kept, the last one without validation data.
	Epochs, BestEpoch int
	// EarlyStopped is true when patience ran out before MaxEpochs.
	EarlyStopped bool
	// TrainRows is the number of training rows used, after any down-sampling.
	TrainRows int
}

// Train fits a network to rows of X with labels y (0 or 1). Xval and yval, if not nil, are
// the validation set for early stopping: after every epoch the validation loss is computed,
// and the weights of the best epoch are the ones returned.
func Train(X *mat.Dense, y []float64, Xval *mat.Dense, yval []float64, c Config) (*MLP, History, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, History{}, err
	}
	n, in := X.Dims()
	if err := checkXY(X, y); err != nil {
		return nil, History{}, fmt.Errorf("training data: %w", err)
	}
	if Xval != nil {
		if err := checkXY(Xval, yval); err != nil {
			return nil, History{}, fmt.Errorf("validation data: %w", err)
		}
		if _, vin := Xval.Dims(); vin != in {
			return nil, History{}, fmt.Errorf("validation data has %d columns, training data %d", vin, in)
		}
	}
	rng := newRand(c.Seed)

	// Rows and weights.
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	var n1 int
	for _, v := range y {
		if v == 1 {
			n1++
		}
	}
	if n1 == 0 || n1 == n {
		return nil, History{}, errors.New("training data: need both classes")
	}
	classW := [2]float64{1, 1}
	switch c.Balance {
	case BalanceWeights:
		classW = [2]float64{float64(n) / (2 * float64(n-n1)), float64(n) / (2 * float64(n1))}
	case BalanceDownsample:
		rows = downsample(rows, y, n1, rng)
	}
	weight := func(v float64) float64 {
		if v == 1 {
			return classW[1]
		}
		return classW[0]
	}

	// Glorot-uniform weights (Keras' default), zero biases.
	m := newMLP(in, c.Hidden1, c.Hidden2, make([]float64, nParams(in, c.Hidden1, c.Hidden2)))
	for _, l := range []*mat.Dense{m.W1, m.W2, m.W3} {
		r, k := l.Dims()
		lim := math.Sqrt(6 / float64(r+k))
		raw := l.RawMatrix().Data
		for i := range raw {
			raw[i] = (2*rng.Float64() - 1) * lim
		}
	}

	bs := min(c.BatchSize, len(rows))
	// A batch is cut into two shards whose passes run on two goroutines and whose gradients
	// add up to the batch's (backward scales by the whole batch). Always two, whatever the
	// machine, so a seed gives the same network everywhere; the summation order is fixed.
	shards := [2]*pass{newPass(m, (bs+1)/2), newPass(m, (bs+1)/2)}
	f := shards[0]
	xb := mat.NewDense(bs, in, nil)
	yb, wb := make([]float64, bs), make([]float64, bs)
	mom, vel := make([]float64, len(m.params)), make([]float64, len(m.params))
	best := make([]float64, len(m.params))
	copy(best, m.params)
	bestLoss := math.Inf(1)
	var h History
	h.TrainRows = len(rows)
	var vf *pass
	var yvw []float64
	if Xval != nil {
		nv, _ := Xval.Dims()
		vf = newPass(m, min(nv, 512))
		yvw = make([]float64, nv)
		for i, v := range yval {
			yvw[i] = weight(v)
		}
	}
	step := 0
	stale := 0
	for epoch := 1; epoch <= c.MaxEpochs; epoch++ {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		var sum float64
		batches := 0
		for lo := 0; lo < len(rows); lo += bs {
			hi := min(lo+bs, len(rows))
			k := hi - lo
			for i, r := range rows[lo:hi] {
				copy(xb.RawRowView(i), X.RawRowView(r))
				yb[i], wb[i] = y[r], weight(y[r])
			}
			scale := 1 / float64(k)
			sum += shardedStep(shards, xb, yb, wb, k, in, scale) + f.addL2(c.L2*scale)
			batches++
			step++
			adam(m.params, f.grad, mom, vel, step, c)
		}
		h.TrainLoss = append(h.TrainLoss, sum/float64(batches))
		h.Epochs = epoch
		if vf == nil {
			h.BestEpoch = epoch
			continue
		}
		vl := lossOf(vf, Xval, yval, yvw)
		h.ValLoss = append(h.ValLoss, vl)
		if vl < bestLoss-c.MinDelta {
			bestLoss, h.BestEpoch, stale = vl, epoch, 0
			copy(best, m.params)
			continue
		}
		if stale++; stale >= c.Patience {
			h.EarlyStopped = epoch < c.MaxEpochs
			break
		}
	}
	if vf != nil {
		copy(m.params, best)
	}
	for _, v := range m.params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, h, errors.New("training diverged: weights are not finite (lower the learning rate)")
		}
	}
	return m, h, nil
}

// shardedStep runs forward and backward over the first k rows of xb in two shards, the
// second on its own goroutine, and leaves the batch's gradient in shards[0].grad.
func shardedStep(shards [2]*pass, xb *mat.Dense, yb, wb []float64, k, in int, scale float64) float64 {
	half := (k + 1) / 2
	if k < 32 {
		half = k // too small to be worth a goroutine
	}
	var loss1 float64
	done := make(chan struct{})
	if half < k {
		go func() {
			f := shards[1]
			f.forward(xb.Slice(half, k, 0, in).(*mat.Dense))
			loss1 = f.backward(yb[half:k], wb[half:k], scale)
			close(done)
		}()
	}
	f := shards[0]
	f.forward(xb.Slice(0, half, 0, in).(*mat.Dense))
	loss := f.backward(yb[:half], wb[:half], scale)
	if half < k {
		<-done
		for i, g := range shards[1].grad {
			f.grad[i] += g
		}
		loss += loss1
	}
	return loss
}

// adam takes one Adam step (Kingma and Ba 2015) on params with gradient g.
func adam(params, g, mom, vel []float64, t int, c Config) {
	b1, b2, eps := c.Beta1, c.Beta2, c.Epsilon
	lr := c.LearningRate * math.Sqrt(1-math.Pow(b2, float64(t))) / (1 - math.Pow(b1, float64(t)))
	g = g[:len(params)]
	mom, vel = mom[:len(params)], vel[:len(params)]
	for i, gi := range g {
		m := b1*mom[i] + (1-b1)*gi
		v := b2*vel[i] + (1-b2)*gi*gi
		mom[i], vel[i] = m, v
		params[i] -= lr * m / (math.Sqrt(v) + eps)
	}
}

// lossOf is the mean weighted cross-entropy of the network on X.
func lossOf(f *pass, X *mat.Dense, y, w []float64) float64 {
	n, in := X.Dims()
	var s float64
	for lo := 0; lo < n; lo += f.cap {
		hi := min(lo+f.cap, n)
		f.forward(X.Slice(lo, hi, 0, in).(*mat.Dense))
		p := f.bp.RawMatrix()
		for i := lo; i < hi; i++ {
			s += w[i] * bce(y[i], p.Data[(i-lo)*p.Stride])
		}
	}
	return s / float64(n)
}

// downsample keeps every row of the smaller class and as many random rows of the larger.
func downsample(rows []int, y []float64, n1 int, rng interface{ Perm(int) []int }) []int {
	n0 := len(rows) - n1
	minority := 1.0
	keep := n1
	if n1 > n0 {
		minority, keep = 0, n0
	}
	var out, major []int
	for _, r := range rows {
		if y[r] == minority {
			out = append(out, r)
		} else {
			major = append(major, r)
		}
	}
	for _, k := range rng.Perm(len(major))[:keep] {
		out = append(out, major[k])
	}
	return out
}

func checkXY(X *mat.Dense, y []float64) error {
	if X == nil {
		return errors.New("no rows")
	}
	n, c := X.Dims()
	if n == 0 || c == 0 {
		return errors.New("no rows")
	}
	if len(y) != n {
		return fmt.Errorf("%d rows but %d labels", n, len(y))
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("label %d is %v: want 0 or 1", i, v)
		}
	}
	for _, v := range X.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("features hold NaN or Inf")
		}
	}
	return nil
}
