#!/usr/bin/python3
"""Side-by-side fit times: models/choice (Go) against statsmodels and scikit-learn.

    /usr/bin/python3 scripts/bench/purchase.py [--repeats N] [--benchtime 300ms]

Times the reference fits on the course's purchase data ($SEGSTREAM_DATA, default ../shared/data
beside the repository) as the median of N repeats, runs the Go benchmarks of models/choice on the
same data in the same run (`go test -bench`, -count N, median of the counts), and prints medians
and ratios. The machine is shared: run it sparingly, and read ratios, not absolute times.

Pairs (same model, same rows, same convergence target of a converged optimum):
  FitLogit     statsmodels Logit().fit()                      incidence, 58,693 rows
  FitLogitL2   sklearn LogisticRegression(C=1/50, lbfgs)      incidence, λ = 50
  FitMNL       statsmodels MNLogit().fit()                    brand choice, 14,638 rows
  FitMNLL2     sklearn LogisticRegression(C=1/20, lbfgs, multinomial)  (symmetric penalty: the
               nearest scikit-learn model; it stops at its own default tolerance)
  FitOLS       statsmodels OLS().fit()                        quantity, 14,638 rows
Model construction (sm.Logit(y, X)) is inside the timed call, as the Go fit also validates and
prepares its input; CSV reading is outside both.
"""
import os

# One BLAS thread: on this shared 2-core machine OpenBLAS's spinning worker threads made
# statsmodels' Logit fit up to 60x slower when other processes were busy, which would flatter
# Go. The Go fits are single-threaded too. Must be set before numpy is imported.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import re
import statistics
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from timing import median_time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(ROOT, "..", "shared", "data"))
SRC = os.path.join(DATA, "customer_analytics_365", "purchase_data_no_demographics.csv")


def reference_times(repeats):
    df = pd.read_csv(SRC)
    prices = [f"Price_{b}" for b in range(1, 6)]
    promos = [f"Promotion_{b}" for b in range(1, 6)]
    Xi = np.c_[df[prices].mean(axis=1), df[promos].mean(axis=1)]
    yi = df["Incidence"].to_numpy(dtype=float)
    bc = df[df["Incidence"] == 1]
    Xb = bc[prices].to_numpy()
    yb = bc["Brand"].to_numpy()
    idx = bc["Brand"].to_numpy() - 1
    Xq = np.c_[bc[prices].to_numpy()[np.arange(len(bc)), idx], bc[promos].to_numpy()[np.arange(len(bc)), idx]]
    yq = bc["Quantity"].to_numpy(dtype=float)
    Xi1, Xb1, Xq1 = sm.add_constant(Xi), sm.add_constant(Xb), sm.add_constant(Xq)
    warnings.simplefilter("ignore")
    return {
        "FitLogit": ("statsmodels Logit", median_time(lambda: sm.Logit(yi, Xi1).fit(disp=0), repeats, warmup=True)),
        "FitLogitL2": ("sklearn lbfgs", median_time(
            lambda: LogisticRegression(C=1 / 50, solver="lbfgs").fit(Xi, yi), repeats, warmup=True)),
        "FitMNL": ("statsmodels MNLogit", median_time(lambda: sm.MNLogit(yb, Xb1).fit(disp=0), repeats, warmup=True)),
        "FitMNLL2": ("sklearn lbfgs multinomial", median_time(
            lambda: LogisticRegression(C=1 / 20, solver="lbfgs", multi_class="multinomial", max_iter=1000).fit(Xb, yb),
            repeats, warmup=True)),
        "FitOLS": ("statsmodels OLS", median_time(lambda: sm.OLS(yq, Xq1).fit(), repeats, warmup=True)),
    }


def go_times(repeats, benchtime):
    cmd = ["go", "test", "-run", "^$", "-bench", ".", "-benchmem", f"-benchtime={benchtime}",
           f"-count={repeats}", "./models/choice"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"go benchmarks failed:\n{out.stdout}\n{out.stderr}")
    runs = {}
    for line in out.stdout.splitlines():
        m = re.match(r"Benchmark(\w+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op", line)
        if m:
            runs.setdefault(m.group(1), []).append((float(m.group(3)), int(m.group(5))))
    return {k: (statistics.median(v[0] for v in vs), vs[0][1]) for k, vs in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--benchtime", default="300ms")
    a = ap.parse_args()
    ref = reference_times(a.repeats)
    go = go_times(a.repeats, a.benchtime)
    print(f"{'fit':<12} {'reference':<27} {'ref median':>11} {'Go median':>10} {'Go allocs':>9} {'speed-up':>9}")
    worst = float("inf")
    for name, (label, t) in ref.items():
        g, allocs = go[name]
        ratio = t / (g * 1e-9)
        worst = min(worst, ratio)
        print(f"{name:<12} {label:<27} {t * 1e3:>9.3f}ms {g / 1e6:>8.3f}ms {allocs:>9} {ratio:>8.1f}x")
    for name in ("LogitProb", "MNLProbs"):
        if name in go:
            print(f"{name:<12} {'(one row, Go only)':<27} {'':>11} {go[name][0]:>8.1f}ns {go[name][1]:>9}")
    print(f"slowest ratio {worst:.1f}x (target ≥ 2x)")


if __name__ == "__main__":
    main()
