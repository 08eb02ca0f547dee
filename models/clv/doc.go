// Package clv estimates customer lifetime value from purchase histories with the BG/NBD model of
// repeat purchasing (Fader, Hardie and Lee 2005, "Counting your customers the easy way") and the
// Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005, "RFM and CLV").
//
// # Data
//
// A customer is summarised by frequency x (distinct purchase days after the first one, so
// same-day transactions count once), recency t_x (time from the first to the last purchase),
// age T (time from the first purchase to the end of the calibration period) and monetary value
// (mean value of the repeat purchase days). Summarize builds these from transactions. Times are
// in a Unit: Weeks as in the literature, or Days.
//
// # Fitting
//
// FitBGNBD and FitGammaGamma maximise the likelihood over the logarithms of the parameters
// (which keeps them positive) with BFGS and analytic gradients. Identical customers are
// grouped and the log-gamma and digamma terms of integer counts are tabulated, so one
// likelihood evaluation costs a few logarithms per distinct customer. An optional L2 penalty
// on the parameters matches the penalizer_coef of the Python lifetimes package; its default 0
// gives the plain maximum-likelihood estimates.
//
// # Scoring
//
// The BGNBD, GammaGamma and Model methods that score one customer (PAlive,
// ConditionalExpectedPurchases, ConditionalExpectedSpend, CLV) take and return plain values and
// allocate nothing, so a scorer can call them on every event.
package clv
