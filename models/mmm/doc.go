// Package mmm is a marketing-mix model: how much revenue each media channel drives, at what
// return, and how a budget is best split over the channels (docs/models/mmm.md).
//
// # Model
//
// For periods t = 0..n−1 (weeks, usually):
//
//	revenue_t = base + trend·t/P + Σ_k (s_k·sin 2πkt/P + c_k·cos 2πkt/P)
//	          + Σ_c β_c·hill(adstock_c(t)) + Σ_j γ_j·control_{j,t} + ε_t
//
// with P the seasonal period (52.18 weeks), the geometric adstock a_t = Σ_{l=0..L} θ^l·x_{t−l}
// (not normalized, L = 8 by default, spend before the first period taken as 0) and the Hill
// curve a^S/(a^S+K^S). θ ∈ (0, 1), K > 0, S ∈ Spec.Shape ((0.5, 3) by default) and β ≥ 0
// per channel; the base, trend, seasonality and controls are unconstrained.
//
// # Fitting
//
// Estimate minimizes the residual sum of squares by variable projection: for given (θ, K, S)
// the linear part is exact (NNLS by Lawson-Hanson on the Hill columns with the unconstrained
// columns projected out), and the outer search over (θ, K, S) runs from several deterministic
// starts, each by Levenberg-Marquardt and by BFGS on the analytic gradient, in a bounded
// unconstrained parametrization. A moving-block bootstrap over periods gives percentile
// intervals; the final periods, predicted by a refit without them, validate out of sample.
//
// # Guarantees
//
//   - Pure: no I/O; the same data and options give the same numbers, byte for byte, whatever
//     the number of goroutines (every start and resample draws from its own seeded stream and
//     lands in its own slot).
//   - The linear part equals scipy.optimize.nnls on the whole design, and the search from a
//     start reaches an objective no worse than scipy.optimize.least_squares from the same start
//     (scripts/golden/mmm.py, testdata/golden_mmm.json).
//   - Allocate spends exactly the budget within the bounds, and is the global optimum on a
//     grid of 2,000 budget steps for any curve shape (S-shaped included), refined to equal
//     marginal returns.
//   - Simulate draws data from a known model, against which the tests measure recovery.
package mmm
