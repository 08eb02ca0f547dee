// Package metrics scores binary classifiers: accuracy, ROC AUC, log loss and Brier score, with
// the conventions of scikit-learn's functions of the same names so that numbers can be
// compared across the two.
package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Binary holds the four scores of one set of predictions.
type Binary struct {
	Accuracy float64 `json:"accuracy"`
	AUC      float64 `json:"auc"`
	LogLoss  float64 `json:"log_loss"`
	Brier    float64 `json:"brier"`
}

// Evaluate computes all four scores of probabilities p for labels y (0 or 1).
func Evaluate(y, p []float64) (Binary, error) {
	if err := check(y, p); err != nil {
		return Binary{}, err
	}
	auc, err := AUC(y, p)
	if err != nil {
		return Binary{}, err
	}
	return Binary{Accuracy: Accuracy(y, p), AUC: auc, LogLoss: LogLoss(y, p), Brier: Brier(y, p)}, nil
}

func check(y, p []float64) error {
	if len(y) != len(p) {
		return fmt.Errorf("%d labels but %d predictions", len(y), len(p))
	}
	if len(y) == 0 {
		return errors.New("no predictions")
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return fmt.Errorf("label %d is %v: want 0 or 1", i, v)
		}
	}
	return nil
}

// Accuracy is the share of rows whose predicted class, 1 when p > 0.5, equals the label.
// A probability of exactly 0.5 predicts 0, as scikit-learn's predict does (argmax takes the
// first of tied classes).
func Accuracy(y, p []float64) float64 {
	hit := 0
	for i := range y {
		if (p[i] > 0.5) == (y[i] == 1) {
			hit++
		}
	}
	return float64(hit) / float64(len(y))
}

// AUC is the area under the ROC curve of scores s for labels y. Tied scores form one step of
// the curve, crossed by a straight line, so a tie between a positive and a negative counts
// one half: the same number as sklearn.metrics.roc_auc_score. It fails when y holds only one
// class, where the AUC is undefined.
func AUC(y, s []float64) (float64, error) {
	if err := check(y, s); err != nil {
		return 0, err
	}
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(s[b], s[a]) }) // descending
	var tp, fp, area float64
	var prevTP, prevFP float64
	for k := 0; k < len(idx); {
		// Consume every row tied at this score, then add the trapezoid.
		v := s[idx[k]]
		for ; k < len(idx) && s[idx[k]] == v; k++ {
			if y[idx[k]] == 1 {
				tp++
			} else {
				fp++
			}
		}
		area += (fp - prevFP) * (tp + prevTP) / 2
		prevTP, prevFP = tp, fp
	}
	if tp == 0 || fp == 0 {
		return 0, errors.New("ROC AUC needs both classes among the labels")
	}
	return area / (tp * fp), nil
}

// logLossEps is the clipping scikit-learn 1.2 applies (eps="auto": float64 machine epsilon),
// so a confident wrong prediction costs about 36 nats, not infinity.
const logLossEps = 2.220446049250313e-16

// LogLoss is the mean binary cross-entropy −[y·ln p + (1−y)·ln(1−p)], p clipped to
// [eps, 1−eps].
func LogLoss(y, p []float64) float64 {
	var s float64
	for i := range y {
		q := min(max(p[i], logLossEps), 1-logLossEps)
		if y[i] == 1 {
			s -= math.Log(q)
		} else {
			s -= math.Log1p(-q)
		}
	}
	return s / float64(len(y))
}

// Brier is the mean squared difference between probability and label.
func Brier(y, p []float64) float64 {
	var s float64
	for i := range y {
		d := p[i] - y[i]
		s += d * d
	}
	return s / float64(len(y))
}
