// Package choice fits the purchase models of customer analytics and turns them into price
// elasticities: a binary logit for purchase incidence, a multinomial logit (MNL) for brand
// choice, ordinary least squares for purchase quantity, and the exact price elasticities of each
// fitted model on a price grid.
//
// # Why its own fitters
//
// The scorer evaluates these models on every event, and the retrainer refits them on live data,
// so fits must be fast and evaluation must not allocate. The fits are plain maximum likelihood
// (or least squares) and reproduce statsmodels' Logit, MNLogit and OLS to about 1e-9 on the
// course data; scripts/golden/purchase.py writes the reference numbers the tests compare with.
//
// # Conventions
//
//   - Design matrices never contain the intercept column: every model fits an intercept and
//     reports it first, named "intercept".
//   - An L2 penalty ½·λ·‖β‖² never touches the intercept. With λ > 0 the fit is the exact
//     penalized optimum, and standard errors come from the inverse of the penalized Hessian.
//   - The MNL uses a base category: the lowest label (brand 1 in the course data), whose
//     coefficients are zero. Elasticities computed from it do not depend on that choice.
//   - Prob, Probs and Predict allocate nothing, so scoring a row costs no garbage.
//
// docs/models/purchase.md gives the formulas, the price grid and the figures on the course data.
package choice
