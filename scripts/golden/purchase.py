#!/usr/bin/python3
"""Reference numbers for models/choice, from statsmodels, scipy and scikit-learn.

Reads customer_analytics_365/purchase_data_no_demographics.csv from $SEGSTREAM_DATA (default
../shared/data beside the repository root) and writes models/choice/testdata/golden_purchase.json.
The data itself is never written. Run from anywhere:

    /usr/bin/python3 scripts/golden/purchase.py

Unpenalized fits come from statsmodels (Logit, MNLogit, OLS) converged with Newton to a tight
tolerance. Penalized fits (½·λ·‖β‖² on the slopes, intercepts free) are the exact optimum of the
penalized likelihood from scipy.optimize (trust-exact with the analytic gradient and Hessian,
gtol 1e-12, then polished by Newton steps to a gradient at rounding level); the logit one is cross-checked with scikit-learn's newton-cg (C = 1/λ, tol 1e-12).
scikit-learn's lbfgs is not used as the reference: even with tol=1e-12 it stops on its relative
function-change test (ftol = 64·eps) about 2e-3 away from the optimum on this data; its answer is
recorded for information only.
Elasticities are evaluated from the statsmodels fits with the closed forms in
docs/models/purchase.md, and checked here against central differences of statsmodels' predict.
"""
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.optimize
import sklearn
import statsmodels
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(ROOT, "..", "shared", "data"))
SRC = os.path.join(DATA, "customer_analytics_365", "purchase_data_no_demographics.csv")
OUT = os.path.join(ROOT, "models", "choice", "testdata", "golden_purchase.json")

LOGIT_L2 = 50.0  # strong enough to move every slope well beyond 1e-6
MNL_L2 = 20.0
GRID = np.arange(0.5, 3.5, 0.01)  # the course's grid, 0.50..3.49


def lst(a):
    return [float(v) for v in np.asarray(a).ravel()]


def load():
    df = pd.read_csv(SRC)
    prices = [f"Price_{b}" for b in range(1, 6)]
    promos = [f"Promotion_{b}" for b in range(1, 6)]
    df["mean_price"] = df[prices].mean(axis=1)
    df["mean_promotion"] = df[promos].mean(axis=1)
    return df, prices, promos


def softmax_rows(eta):
    eta = eta - eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def polish(b, g, h):
    """A few plain Newton steps from scipy's answer: trust-exact stops once its trust region
    stalls, which on the MNL leaves |gradient| near 1e-5; Newton then reaches rounding level."""
    for _ in range(4):
        b = b - np.linalg.solve(h(b), g(b))
    return b


def penalized_logit(X, y, lam):
    """Exact optimum of sum log-lik − ½λ‖β_slopes‖²; X includes the constant in column 0."""
    k = X.shape[1]
    pen = np.ones(k) * lam
    pen[0] = 0

    def f(b):
        eta = X @ b
        return -(y @ eta - np.logaddexp(0, eta).sum()) + 0.5 * (pen * b * b).sum()

    def g(b):
        mu = scipy.special.expit(X @ b)
        return -(X.T @ (y - mu)) + pen * b

    def h(b):
        mu = scipy.special.expit(X @ b)
        return (X * (mu * (1 - mu))[:, None]).T @ X + np.diag(pen)

    r = scipy.optimize.minimize(f, np.zeros(k), jac=g, hess=h, method="trust-exact",
                                options={"gtol": 1e-12, "maxiter": 1000})
    b = polish(r.x, g, h)
    eta = X @ b
    llf = y @ eta - np.logaddexp(0, eta).sum()
    se = np.sqrt(np.diag(np.linalg.inv(h(b))))
    return b, se, llf, float(np.abs(g(b)).max())


def penalized_mnl(X, yidx, K, lam):
    """Exact optimum of the base-category MNL log-likelihood − ½λ Σ_c ‖β_c slopes‖²."""
    n, k = X.shape
    d = (K - 1) * k
    Y = np.zeros((n, K))
    Y[np.arange(n), yidx] = 1
    pen = np.tile(np.r_[0.0, np.ones(k - 1) * lam], K - 1)

    def probs(b):
        B = np.c_[np.zeros(k), b.reshape(K - 1, k).T]  # k × K, base column zero
        return softmax_rows(X @ B), X @ B

    def f(b):
        P, eta = probs(b)
        lse = scipy.special.logsumexp(eta, axis=1)
        return -((Y * eta).sum() - lse.sum()) + 0.5 * (pen * b * b).sum()

    def g(b):
        P, _ = probs(b)
        G = X.T @ (Y[:, 1:] - P[:, 1:])  # k × (K−1)
        return -G.T.ravel() + pen * b

    def h(b):
        P, _ = probs(b)
        H = np.zeros((d, d))
        for c in range(1, K):
            for e in range(1, K):
                w = P[:, c] * ((c == e) - P[:, e])
                H[(c - 1) * k:c * k, (e - 1) * k:e * k] = (X * w[:, None]).T @ X
        return H + np.diag(pen)

    b0 = np.zeros(d)
    r = scipy.optimize.minimize(f, b0, jac=g, hess=h, method="trust-exact",
                                options={"gtol": 1e-12, "maxiter": 1000})
    b = polish(r.x, g, h)
    P, eta = probs(b)
    llf = (Y * eta).sum() - scipy.special.logsumexp(eta, axis=1).sum()
    se = np.sqrt(np.diag(np.linalg.inv(h(b))))
    return b.reshape(K - 1, k), se.reshape(K - 1, k), llf, float(np.abs(g(b)).max())


def check_close(name, a, b, tol):
    """Relative to the largest |b|, so curves crossing zero are not judged by their zeros."""
    a, b = np.asarray(a), np.asarray(b)
    err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)
    if err > tol:
        sys.exit(f"{name}: self-check failed, relative difference {err:g} > {tol:g}")


def main():
    df, prices, promos = load()
    out = {
        "source": "customer_analytics_365/purchase_data_no_demographics.csv",
        "rows": int(len(df)),
        "versions": {"statsmodels": statsmodels.__version__, "scipy": scipy.__version__,
                     "sklearn": sklearn.__version__, "numpy": np.__version__},
        "grid": lst(GRID),
    }

    # Purchase incidence: logit of Incidence on mean price and mean promotion.
    Xi = sm.add_constant(df[["mean_price", "mean_promotion"]].to_numpy())
    yi = df["Incidence"].to_numpy(dtype=float)
    li = sm.Logit(yi, Xi).fit(method="newton", tol=1e-10, maxiter=100, disp=0)
    assert li.mle_retvals["converged"], "statsmodels Logit did not converge"
    b = li.params

    def inc_el(promo):
        X = np.c_[np.ones_like(GRID), GRID, np.full_like(GRID, promo)]
        P = li.predict(X)
        # Central-difference check of the closed form against statsmodels' predict.
        h = 1e-6
        num = (li.predict(X + [0, h, 0]) - li.predict(X - [0, h, 0])) / (2 * h) * GRID / P
        el = b[1] * GRID * (1 - P)
        check_close("incidence elasticity vs numerical", el, num, 1e-6)
        return el

    out["incidence"] = {
        "names": ["intercept", "price", "promotion"],
        "coef": lst(b), "stderr": lst(li.bse), "llf": float(li.llf),
        "elasticity": lst(inc_el(0.0)), "elasticity_promotion": lst(inc_el(1.0)),
    }
    bp, sep, llp, gmax = penalized_logit(Xi, yi, LOGIT_L2)
    with warnings.catch_warnings():
        # newton-cg reaches the optimum and then reports that it could not meet tol=1e-12.
        warnings.simplefilter("ignore")
        ncg = LogisticRegression(C=1 / LOGIT_L2, solver="newton-cg", tol=1e-12, max_iter=1000)
        ncg.fit(Xi[:, 1:], yi)
        lb = LogisticRegression(C=1 / LOGIT_L2, solver="lbfgs", tol=1e-12, max_iter=100000)
        lb.fit(Xi[:, 1:], yi)
    ncgb = np.r_[ncg.intercept_, ncg.coef_.ravel()]
    check_close("penalized logit scipy vs sklearn newton-cg", ncgb, bp, 1e-8)
    out["incidence_l2"] = {"l2": LOGIT_L2, "coef": lst(bp), "stderr": lst(sep), "llf": float(llp),
                           "max_abs_gradient": gmax, "sklearn_newton_cg_coef": lst(ncgb),
                           "sklearn_lbfgs_coef_for_information": lst(np.r_[lb.intercept_, lb.coef_.ravel()])}

    # Brand choice: MNL of Brand on the five prices, purchase rows, base brand 1.
    bc = df[df["Incidence"] == 1]
    Xb = sm.add_constant(bc[prices].to_numpy())
    yb = bc["Brand"].to_numpy()
    mn = sm.MNLogit(yb, Xb).fit(method="newton", tol=1e-10, maxiter=100, disp=0)
    assert mn.mle_retvals["converged"], "statsmodels MNLogit did not converge"
    B = np.asarray(mn.params)  # k × (K−1)
    xbar = bc[prices].mean().to_numpy()

    def grid_rows(f):
        X = np.tile(np.r_[1.0, xbar], (len(GRID), 1))
        X[:, 1 + f] = GRID
        return X

    Bfull = np.c_[np.zeros(B.shape[0]), B]  # k × K, base column zero
    Bsym = Bfull - Bfull.mean(axis=1, keepdims=True)

    def exact(j, f):
        X = grid_rows(f)
        P = mn.predict(X)
        el = GRID * (Bfull[1 + f, j] - P @ Bfull[1 + f, :])
        h = 1e-6
        Xp, Xm = X.copy(), X.copy()
        Xp[:, 1 + f] += h
        Xm[:, 1 + f] -= h
        num = (mn.predict(Xp)[:, j] - mn.predict(Xm)[:, j]) / (2 * h) * GRID / P[:, j]
        check_close(f"MNL elasticity {j},{f} vs numerical", el, num, 1e-5)
        return el

    def textbook_own(j, f):
        P = mn.predict(grid_rows(f))
        return Bsym[1 + f, j] * GRID * (1 - P[:, j])

    def textbook_cross(k, f):
        P = mn.predict(grid_rows(f))
        return -Bsym[1 + f, k] * GRID * P[:, k]

    out["brand_choice"] = {
        "base": 1, "categories": [1, 2, 3, 4, 5],
        "names": ["intercept"] + [f"price_{b}" for b in range(1, 6)],
        "coef": [lst(B[:, c]) for c in range(B.shape[1])],
        "stderr": [lst(np.asarray(mn.bse)[:, c]) for c in range(B.shape[1])],
        "llf": float(mn.llf), "x": lst(xbar),
        "own_5": lst(exact(4, 4)), "cross_5_4": lst(exact(4, 3)),
        "own_1": lst(exact(0, 0)), "cross_2_1": lst(exact(1, 0)),
        "own_5_textbook": lst(textbook_own(4, 4)), "cross_5_4_textbook": lst(textbook_cross(3, 3)),
    }
    cats = np.array([1, 2, 3, 4, 5])
    bm, sem, llm, gm = penalized_mnl(Xb, np.searchsorted(cats, yb), 5, MNL_L2)
    out["brand_choice_l2"] = {"l2": MNL_L2, "coef": [lst(r) for r in bm], "stderr": [lst(r) for r in sem],
                              "llf": float(llm), "max_abs_gradient": gm}

    # Purchase quantity: OLS of Quantity on the chosen brand's price and promotion.
    q = bc.copy()
    q["price"] = [r[f"Price_{int(r['Brand'])}"] for _, r in q.iterrows()]
    q["promotion"] = [r[f"Promotion_{int(r['Brand'])}"] for _, r in q.iterrows()]
    Xq = sm.add_constant(q[["price", "promotion"]].to_numpy())
    ols = sm.OLS(q["Quantity"].to_numpy(dtype=float), Xq).fit()
    bq = ols.params

    def q_el(promo):
        return bq[1] * GRID / (bq[0] + bq[1] * GRID + bq[2] * promo)

    out["quantity"] = {
        "names": ["intercept", "price", "promotion"], "coef": lst(bq), "stderr": lst(ols.bse),
        "r2": float(ols.rsquared), "adj_r2": float(ols.rsquared_adj),
        "published_course": {"price": -0.8174, "promotion": -0.1050},
        "elasticity": lst(q_el(0.0)), "elasticity_promotion": lst(q_el(1.0)),
    }

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"wrote {OUT}: logit llf {li.llf:.6f}, MNL llf {mn.llf:.6f}, OLS R² {ols.rsquared:.6f}; "
          f"penalized max|grad| logit {gmax:.2g}, MNL {gm:.2g}")


if __name__ == "__main__":
    main()
