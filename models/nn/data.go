package nn

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Dataset is a table of numeric features with a 0/1 target.
type Dataset struct {
	Names []string // feature names, one per column of X
	IDs   []string
	X     *mat.Dense
	Y     []float64
}

// Rows returns the dataset restricted to the given rows, in that order.
func (d Dataset) Rows(idx []int) Dataset {
	_, c := d.X.Dims()
	out := Dataset{Names: d.Names, IDs: make([]string, len(idx)), X: mat.NewDense(max(len(idx), 1), c, nil), Y: make([]float64, len(idx))}
	if len(idx) == 0 {
		out.X = nil
		return out
	}
	for i, r := range idx {
		out.IDs[i], out.Y[i] = d.IDs[r], d.Y[r]
		copy(out.X.RawRowView(i), d.X.RawRowView(r))
	}
	return out
}

// AudiobooksFeatures names the ten feature columns of the Audiobooks data, in file order.
var AudiobooksFeatures = []string{
	"book_length_overall", "book_length_avg", "price_overall", "price_avg", "review",
	"review_10", "completion", "minutes_listened", "support_requests", "last_visit_days",
}

// ReadAudiobooks reads the Audiobooks case data: comma separated, CRLF or LF, no header; the
// first column is the customer id, the last the target (bought again within 6 months), the
// ten in between are the features.
func ReadAudiobooks(r io.Reader) (Dataset, error) {
	sc := bufio.NewScanner(r)
	var d Dataset
	var data []float64
	cols := -1
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		f := strings.Split(s, ",")
		if cols < 0 {
			cols = len(f)
			if cols < 3 {
				return Dataset{}, fmt.Errorf("line %d: %d columns: want id, features..., target", line, cols)
			}
		}
		if len(f) != cols {
			return Dataset{}, fmt.Errorf("line %d: %d columns, the first line had %d", line, len(f), cols)
		}
		for _, v := range f[1 : cols-1] {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return Dataset{}, fmt.Errorf("line %d: %w", line, err)
			}
			data = append(data, x)
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(f[cols-1]), 64)
		if err != nil || (t != 0 && t != 1) {
			return Dataset{}, fmt.Errorf("line %d: target %q: want 0 or 1", line, f[cols-1])
		}
		d.IDs = append(d.IDs, strings.TrimSpace(f[0]))
		d.Y = append(d.Y, t)
	}
	if err := sc.Err(); err != nil {
		return Dataset{}, fmt.Errorf("reading Audiobooks data: %w", err)
	}
	if len(d.Y) == 0 {
		return Dataset{}, errors.New("no rows")
	}
	d.X = mat.NewDense(len(d.Y), cols-2, data)
	d.Names = AudiobooksFeatures
	if cols-2 != len(AudiobooksFeatures) {
		d.Names = make([]string, cols-2)
		for j := range d.Names {
			d.Names[j] = "x" + strconv.Itoa(j+1)
		}
	}
	return d, nil
}

// BalanceFirst drops the surplus of the larger class the way the Audiobooks course does: it
// keeps every row of the smaller class and the first rows of the larger class, in file
// order, until the classes are equal. It returns the kept row indices in file order.
func BalanceFirst(y []float64) []int {
	var n1 int
	for _, v := range y {
		if v == 1 {
			n1++
		}
	}
	major, keep := 0.0, n1
	if n1 > len(y)-n1 {
		major, keep = 1, len(y)-n1
	}
	out := make([]int, 0, 2*keep)
	seen := 0
	for i, v := range y {
		if v == major {
			if seen++; seen > keep {
				continue
			}
		}
		out = append(out, i)
	}
	return out
}

// Standardize scales the columns of X in place to mean 0 and (population) standard
// deviation 1, like sklearn.preprocessing.scale; a constant column becomes 0. It returns the
// means and standard deviations used.
func Standardize(X *mat.Dense) (mean, sd []float64) {
	n, c := X.Dims()
	mean, sd = make([]float64, c), make([]float64, c)
	for j := 0; j < c; j++ {
		var s float64
		for i := 0; i < n; i++ {
			s += X.At(i, j)
		}
		mu := s / float64(n)
		var ss float64
		for i := 0; i < n; i++ {
			d := X.At(i, j) - mu
			ss += d * d
		}
		sigma := math.Sqrt(ss / float64(n))
		mean[j], sd[j] = mu, sigma
		if sigma == 0 {
			sigma = 1
		}
		for i := 0; i < n; i++ {
			X.Set(i, j, (X.At(i, j)-mu)/sigma)
		}
	}
	return mean, sd
}

// splitmix64 is Steele, Lea and Flood's mixer: a few lines in any language, so a reference
// script can reproduce a shuffle exactly.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// PortablePerm is a permutation of 0..n-1 determined by seed: the indices sorted by
// splitmix64(seed·2⁶⁴/φ + i) (ties, which 64-bit keys make practically impossible, by index).
// Unlike math/rand it is trivial to reproduce outside Go, which is what lets the reference
// scripts train scikit-learn on exactly the same split.
func PortablePerm(n int, seed uint64) []int {
	keys := make([]uint64, n)
	idx := make([]int, n)
	base := seed * 0x9e3779b97f4a7c15
	for i := range idx {
		idx[i] = i
		keys[i] = splitmix64(base + uint64(i))
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return idx
}

// Split is a train/validation/test partition.
type Split struct {
	Train, Val, Test Dataset
}

// PrepareCourse is the Audiobooks course's preparation: balance by dropping the surplus
// zeros (BalanceFirst), standardize every feature on the balanced data, shuffle
// (PortablePerm with seed) and split 80/10/10: ⌊0.8n⌋ training rows, ⌊0.1n⌋ validation rows
// and the rest for test, as the course's int() arithmetic does.
func PrepareCourse(d Dataset, seed uint64) Split {
	b := d.Rows(BalanceFirst(d.Y))
	Standardize(b.X)
	n := len(b.Y)
	s := b.Rows(PortablePerm(n, seed))
	nTrain := int(0.8 * float64(n))
	nVal := int(0.1 * float64(n))
	idx := func(lo, hi int) []int {
		out := make([]int, hi-lo)
		for i := range out {
			out[i] = lo + i
		}
		return out
	}
	return Split{
		Train: s.Rows(idx(0, nTrain)),
		Val:   s.Rows(idx(nTrain, nTrain+nVal)),
		Test:  s.Rows(idx(nTrain+nVal, n)),
	}
}
