package choice

import (
	"fmt"
	"math"
	"math/bits"

	"gonum.org/v1/gonum/mat"
)

// groups collapses identical design rows. Purchase data repeats itself heavily (the course's
// 58,693 visits have 236 distinct (mean price, mean promotion) rows; its 14,638 purchases 320
// distinct price vectors), and every likelihood here is a sum over rows that depends on a row
// only through x and its response. Summing the responses of identical rows first is therefore
// exact, and each Newton pass then costs the number of distinct rows instead of all rows.
type groups struct {
	p  int
	x  []float64 // distinct rows, row-major with stride p
	n  []float64 // how many input rows each distinct row stands for
	of []int32   // the group of every input row
}

func (g *groups) len() int { return len(g.n) }

// row returns distinct row i.
func (g *groups) row(i int) []float64 { return g.x[i*g.p : (i+1)*g.p : (i+1)*g.p] }

// groupRows finds the distinct rows of X by their bit patterns with an open-addressing hash
// table (a Go map keyed by a slice would need a copy per row). It also rejects NaN and ±Inf,
// which no fit can use.
func groupRows(X *mat.Dense) (*groups, error) {
	raw := X.RawMatrix()
	n, p, stride, data := raw.Rows, raw.Cols, raw.Stride, raw.Data
	g := &groups{p: p, of: make([]int32, n)}
	table := make([]int32, 1024) // group+1; 0 is empty; grows with the distinct rows
	mask := uint64(len(table) - 1)
	const expBits = 0x7FF0000000000000 // all ones: NaN or ±Inf
	for i := 0; i < n; i++ {
		row := data[i*stride : i*stride+p : i*stride+p]
		h := uint64(hashSeed)
		for _, v := range row {
			b := math.Float64bits(v)
			if b&expBits == expBits {
				return nil, fmt.Errorf("X row %d holds %v: every value must be finite", i, v)
			}
			h = bits.RotateLeft64((h^b)*hashMul, 31)
		}
		slot := (h ^ h>>29) & mask
		for {
			e := table[slot]
			if e == 0 {
				gi := len(g.n)
				g.x = append(g.x, row...)
				g.n = append(g.n, 1)
				table[slot] = int32(gi + 1)
				g.of[i] = int32(gi)
				// Keep the load under one half so probes stay short.
				if 2*len(g.n) > len(table) {
					table = g.rehash(len(table) * 2)
					mask = uint64(len(table) - 1)
				}
				break
			}
			if sameRow(g.x[int(e-1)*p:int(e)*p], row) {
				g.n[e-1]++
				g.of[i] = e - 1
				break
			}
			slot = (slot + 1) & mask
		}
	}
	return g, nil
}

const (
	hashSeed = 0x9E3779B97F4A7C15
	hashMul  = 0xBF58476D1CE4E5B9
)

func hashRow(row []float64) uint64 {
	h := uint64(hashSeed)
	for _, v := range row {
		h = bits.RotateLeft64((h^math.Float64bits(v))*hashMul, 31)
	}
	return h
}

func sameRow(a, b []float64) bool {
	for j := range a {
		if math.Float64bits(a[j]) != math.Float64bits(b[j]) {
			return false
		}
	}
	return true
}

func (g *groups) rehash(size int) []int32 {
	table := make([]int32, size)
	mask := uint64(size - 1)
	for gi := range g.n {
		h := hashRow(g.row(gi))
		slot := (h ^ h>>29) & mask
		for table[slot] != 0 {
			slot = (slot + 1) & mask
		}
		table[slot] = int32(gi + 1)
	}
	return table
}
