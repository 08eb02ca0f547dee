#!/usr/bin/python3
"""Reference numbers for models/clv: BG/NBD and Gamma-Gamma fitted with scipy.

The lifetimes package is not installed here, so its likelihoods are written out below
(BetaGeoFitter._negative_log_likelihood and GammaGammaFitter._negative_log_likelihood of
lifetimes 0.11, including penalizer_coef) and minimised on log-parameters with scipy: a tight
Nelder-Mead run (derivative-free, so no gradient formula is shared with the Go code), then
BFGS on finite differences to polish, keeping whichever is lower.

Data come from $SEGSTREAM_DATA (default ../shared/data beside the repository root). Output:
models/clv/testdata/golden.json. Run: /usr/bin/python3 scripts/golden/clv.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
from scipy import optimize, special

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(ROOT, "..", "shared", "data"))


def load_summary():
    return pd.read_csv(os.path.join(DATA, "cdnow", "cdnow_customers_summary.csv"))


def load_spend():
    return pd.read_csv(os.path.join(DATA, "cdnow", "cdnow_customers_summary_with_transactions.csv"))


def bgnbd_nll(log_params, x, tx, T, penalizer=0.0):
    """Mean negative log-likelihood plus penalizer * sum(params**2), as lifetimes."""
    r, alpha, a, b = np.exp(log_params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(tx + alpha)
    d = x > 0
    a4 = np.where(d, a4, -np.inf)
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return -ll.mean() + penalizer * np.sum(np.exp(log_params) ** 2)


def gg_nll(log_params, x, m, penalizer=0.0):
    p, q, v = np.exp(log_params)
    ll = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(v)
          + (p * x - 1) * np.log(m) + (p * x) * np.log(x) - (p * x + q) * np.log(x * m + v))
    return -ll.mean() + penalizer * np.sum(np.exp(log_params) ** 2)


def fit(f, x0, args):
    nm = optimize.minimize(f, x0, args=args, method="Nelder-Mead",
                           options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 50000, "maxfev": 100000})
    bf = optimize.minimize(f, nm.x, args=args, method="BFGS", options={"gtol": 1e-11})
    best = bf if bf.fun <= nm.fun else nm
    return np.exp(best.x), best.fun


def fit_bgnbd(s, penalizer=0.0):
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    # lifetimes' start: ones on a time scale where max(T) is 10, i.e. alpha = max(T)/10.
    x0 = np.array([0.0, np.log(T.max() / 10), 0.0, 0.0])
    params, f = fit(bgnbd_nll, x0, (x, tx, T, penalizer))
    return params, -bgnbd_nll(np.log(params), x, tx, T) * len(x)


def fit_gg(s, penalizer=0.0):
    s = s[s["x"] > 0]
    x, m = s["x"].to_numpy(float), s["zbar"].to_numpy(float)
    params, f = fit(gg_nll, np.zeros(3), (x, m, penalizer))
    return params, -gg_nll(np.log(params), x, m) * len(x), len(x)


# Predictions, written as lifetimes writes them.
def p_alive(params, x, tx, T):
    r, alpha, a, b = params
    if x == 0:
        return 1.0
    log_div = (r + x) * np.log((alpha + T) / (alpha + tx)) + np.log(a / (b + max(x, 1) - 1))
    return float(special.expit(-log_div))


def expected_purchases(params, t):
    r, alpha, a, b = params
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


def conditional_expected_purchases(params, t, x, tx, T):
    r, alpha, a, b = params
    _a, _b, _c = r + x, b + x, a + b + x - 1
    _z = t / (alpha + T + t)
    ln_hyp = np.log(special.hyp2f1(_a, _b, _c, _z))
    if np.isinf(ln_hyp):
        ln_hyp = np.log(special.hyp2f1(_c - _a, _c - _b, _c, _z)) + (_c - _a - _b) * np.log(1 - _z)
    first = (a + b + x - 1) / (a - 1)
    second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
    den = 1 + (x > 0) * (a / (b + max(x, 1) - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return float(first * second / den)


def expected_spend(gg, x, m):
    p, q, v = gg
    w = p * x / (p * x + q - 1)
    return float((1 - w) * v * p / (q - 1) + w * m)


def clv(params, gg, x, tx, T, m, months=12, discount=0.01, factor=4.345):
    """lifetimes.utils._customer_lifetime_value with freq='W' (4.345 weeks a month)."""
    spend = expected_spend(gg, x, m)
    total = 0.0
    for i in np.arange(1, months + 1) * factor:
        n = conditional_expected_purchases(params, i, x, tx, T) - conditional_expected_purchases(params, i - factor, x, tx, T)
        total += spend * n / (1 + discount) ** (i / factor)
    return float(total)


def main():
    s, sp = load_summary(), load_spend()
    bg, bg_ll = fit_bgnbd(s)
    bg_pen, bg_pen_ll = fit_bgnbd(s, penalizer=0.01)
    gg, gg_ll, gg_n = fit_gg(sp)
    gg_pen, gg_pen_ll, _ = fit_gg(sp, penalizer=0.001)
    customers = []
    # A few kinds of customer: one-timers, light, heavy, lapsed, the heaviest.
    ids = [1, 2, 3, 18, 35, 100, 157, 1516, int(sp.loc[sp["x"].idxmax(), "ID"])]
    for cid in ids:
        row = sp[sp["ID"] == cid].iloc[0]
        x, tx, T, m = float(row["x"]), float(row["t_x"]), float(row["T"]), float(row["zbar"])
        customers.append({
            "id": str(cid), "x": x, "t_x": tx, "T": T, "zbar": m,
            "p_alive": p_alive(bg, x, tx, T),
            "cond_expected_purchases_52": conditional_expected_purchases(bg, 52.0, x, tx, T),
            "cond_expected_purchases_39": conditional_expected_purchases(bg, 39.0, x, tx, T),
            "expected_spend": expected_spend(gg, x, m),
            "clv_12m_1pct": clv(bg, gg, x, tx, T, m),
        })
    out = {
        "source": "scripts/golden/clv.py (scipy %s, numpy %s); likelihoods as lifetimes 0.11" % (
            __import__("scipy").__version__, np.__version__),
        "bgnbd": dict(zip(["r", "alpha", "a", "b"], map(float, bg)), log_likelihood=float(bg_ll), n=len(s)),
        "bgnbd_penalized": dict(zip(["r", "alpha", "a", "b"], map(float, bg_pen)), log_likelihood=float(bg_pen_ll), penalizer=0.01),
        "gamma_gamma": dict(zip(["p", "q", "v"], map(float, gg)), log_likelihood=float(gg_ll), n=gg_n),
        "gamma_gamma_penalized": dict(zip(["p", "q", "v"], map(float, gg_pen)), log_likelihood=float(gg_pen_ll), penalizer=0.001),
        "expected_purchases_new": {str(t): expected_purchases(bg, t) for t in (1.0, 10.0, 39.0, 78.0)},
        "customers": customers,
    }
    path = os.path.join(ROOT, "models", "clv", "testdata", "golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: out[k] for k in ("bgnbd", "gamma_gamma")}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
