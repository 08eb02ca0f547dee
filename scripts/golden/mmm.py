#!/usr/bin/python3
"""Reference numbers for models/mmm, made with scipy.

Writes models/mmm/testdata/golden_mmm.json:
  - nnls: random problems (some with active constraints) and scipy.optimize.nnls's solution;
  - data: a simulated weekly series (numpy's generator, seed 17: 104 weeks, 3 channels, one
    control) the other cases are fitted on;
  - linear: for fixed transform parameters (θ, K, S per channel), the linear part by
    scipy.optimize.nnls on the design [F, −F, H] (the free columns F sign-split, so they are
    unconstrained, the Hill columns H ≥ 0): free coefficients, channel coefficients, RSS;
  - starts: from given points z of the unconstrained parametrization models/mmm searches
    (θ = σ(z0), K = k·mean spend·Σθ^l with ln k = ln 0.05 + ln 400·σ(z1), S = 0.3 + 4.7·σ(z2)),
    scipy.optimize.least_squares (trf) on the variable-projection residual: the RSS it reaches.

With --bench CSV (a file in the format of `segstream analyze mmm`), it instead times
least_squares fits of that file from 8 starts and prints the seconds.

Run from anywhere: /usr/bin/python3 scripts/golden/mmm.py [--bench cmd/segstream/testdata/mmm_weekly.csv]
"""
import json
import os
import sys
import time

import numpy as np
import scipy
from scipy.optimize import least_squares, nnls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "mmm", "testdata", "golden_mmm.json")
MAX_LAG, FOURIER, PERIOD = 8, 2, 52.18
K_MIN, K_MAX, S_MIN, S_MAX = 0.05, 20.0, 0.3, 5.0


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def adstock(x, theta):
    a = np.zeros_like(x)
    for lag in range(MAX_LAG + 1):
        a[lag:] += theta ** lag * x[: len(x) - lag]
    return a


def carryover(theta):
    return sum(theta ** lag for lag in range(MAX_LAG + 1))


def hill(a, k, s):
    out = np.zeros_like(a)
    pos = a > 0
    out[pos] = 1 / (1 + (k / a[pos]) ** s)
    return out


def free_columns(n, controls):
    t = np.arange(n, dtype=float)
    cols = [np.ones(n), t / PERIOD]
    for k in range(1, FOURIER + 1):
        arg = 2 * np.pi * k * t / PERIOD
        cols += [np.sin(arg), np.cos(arg)]
    return np.column_stack(cols + list(controls))


def transform(z, spend):
    out = []
    for c, x in enumerate(spend):
        theta = sigmoid(z[3 * c])
        rel = np.exp(np.log(K_MIN) + np.log(K_MAX / K_MIN) * sigmoid(z[3 * c + 1]))
        out.append((theta, rel * x.mean() * carryover(theta), S_MIN + (S_MAX - S_MIN) * sigmoid(z[3 * c + 2])))
    return out


def hill_columns(params, spend):
    return np.column_stack([hill(adstock(x, th), k, s) for (th, k, s), x in zip(params, spend)])


def varpro(y, spend, controls):
    f = free_columns(len(y), controls)
    q, _ = np.linalg.qr(f)
    yt = y - q @ (q.T @ y)

    def residual(z):
        h = hill_columns(transform(z, spend), spend)
        ht = h - q @ (q.T @ h)
        beta, _ = nnls(ht, yt)
        return yt - ht @ beta
    return residual


def simulate(rng, n, channels, controls):
    spend = []
    for _ in range(channels):
        level = np.exp(rng.uniform(np.log(2000), np.log(20000)))
        on = rng.uniform(size=n) < 0.6
        spend.append(np.where(on, level * rng.uniform(0.4, 1.6, n), 0.0))
    ctrl = [rng.normal(size=n) for _ in range(controls)]
    truth = [(rng.uniform(0.1, 0.7), 0, rng.uniform(0.8, 2.5)) for _ in range(channels)]
    truth = [(th, rng.uniform(0.5, 2) * x.mean() * carryover(th), s) for (th, _, s), x in zip(truth, spend)]
    h = hill_columns(truth, spend)
    beta = 100000 * rng.uniform(0.03, 0.12, channels) / h.mean(axis=0)
    t = np.arange(n)
    y = 100000 + 1000 * t / PERIOD + 6000 * np.sin(2 * np.pi * t / PERIOD) + h @ beta + 2000 * sum(ctrl)
    return y + rng.normal(0, 4000, n), spend, ctrl


def golden():
    rng = np.random.default_rng(17)
    cases = []
    for m, n, sign in [(20, 5, 1), (50, 8, -1), (30, 3, 1), (40, 6, 0)]:
        a = rng.normal(size=(m, n))
        b = rng.normal(size=m) + sign * a @ np.abs(rng.normal(size=n))
        x, rnorm = nnls(a, b)
        cases.append({"a": a.tolist(), "b": b.tolist(), "x": x.tolist(), "rnorm": rnorm})
    y, spend, ctrl = simulate(rng, 104, 3, 1)
    data = {"revenue": y.tolist(), "channels": ["tv", "search", "social"], "spend": [x.tolist() for x in spend],
            "controls": ["price"], "control": [c.tolist() for c in ctrl]}
    f = free_columns(len(y), ctrl)
    linear = []
    for i in range(3):
        params = [(rng.uniform(0.1, 0.8), rng.uniform(0.5, 2) * x.mean() * carryover(0.5), rng.uniform(0.7, 3)) for x in spend]
        h = hill_columns(params, spend)
        coef, rnorm = nnls(np.column_stack([f, -f, h]), y, maxiter=1000)
        p = f.shape[1]
        linear.append({"decay": [t for t, _, _ in params], "half_saturation": [k for _, k, _ in params],
                       "shape": [s for _, _, s in params], "free": (coef[:p] - coef[p:2 * p]).tolist(),
                       "beta": coef[2 * p:].tolist(), "rss": rnorm ** 2})
    residual = varpro(y, spend, ctrl)
    starts = []
    for i in range(4):
        z0 = rng.normal(0, 1, 3 * len(spend)) if i else np.zeros(3 * len(spend))
        res = least_squares(residual, z0, method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
        starts.append({"z0": z0.tolist(), "z": res.x.tolist(), "rss": float(res.fun @ res.fun), "nfev": int(res.nfev)})
    with open(OUT, "w") as fh:
        json.dump({"scipy": scipy.__version__, "max_lag": MAX_LAG, "fourier": FOURIER, "period": PERIOD,
                   "nnls": cases, "data": data, "linear": linear, "starts": starts}, fh, indent=1)
    for s in starts:
        print(f"start: rss {s['rss']:.10g} in {s['nfev']} evaluations")


def bench(path):
    import pandas as pd
    df = pd.read_csv(path)
    y = df["revenue"].to_numpy(float)
    spend = [df[c].to_numpy(float) for c in df.columns if c.startswith("spend_")]
    ctrl = [df[c].to_numpy(float) for c in df.columns if c not in ("period", "revenue") and not c.startswith("spend_")]
    residual = varpro(y, spend, ctrl)
    rng = np.random.default_rng(1)
    begin, best, nfev = time.perf_counter(), np.inf, 0
    for i in range(8):
        z0 = rng.normal(0, 1, 3 * len(spend)) if i else np.zeros(3 * len(spend))
        res = least_squares(residual, z0, method="trf", xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=2000)
        best, nfev = min(best, float(res.fun @ res.fun)), nfev + res.nfev
    took = time.perf_counter() - begin
    print(f"{path}: {len(y)} periods, {len(spend)} channels: 8 least_squares starts in {took:.2f} s ({nfev} evaluations), best rss {best:.10g}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bench":
        bench(sys.argv[2])
    else:
        golden()
