#!/usr/bin/python3
"""Side-by-side timing of the CLV and conversion fits: the Python references against the Go
benchmarks, in one run, so both see the same machine load.

References (the code of scripts/golden/*.py):
  - BG/NBD and Gamma-Gamma on the CDNOW summaries: scipy, the likelihoods of lifetimes 0.11,
    (a) as lifetimes fits them (Nelder-Mead, scipy's default tolerances) and (b) as the golden
    script fits them (tight Nelder-Mead + BFGS polish, the accuracy the Go fit reaches);
  - the network: sklearn MLPClassifier(50, 50), ReLU, Adam 1e-3, batch 100, alpha 0, exactly
    50 epochs (tol=0) on the Audiobooks training split; Go: BenchmarkTrainMLP, the same, built
    twice: by default (gonum's pure-Go BLAS) and with -tags openblas (TrainMLP/openblas);
  - one customer: the lifetimes formulas in scalar Python against the Go methods.

Go: go test -bench in models/clv and models/nn (b.ReportAllocs). Medians of repeated runs.
Run from the repository root: /usr/bin/python3 scripts/bench/clv_conversion.py [--quick]
"""
import os
import re
import statistics
import subprocess
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "golden"))
import clv  # noqa: E402
import conversion  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from timing import median_time  # noqa: E402

QUICK = "--quick" in sys.argv


def lifetimes_fit(nll, x0, args):
    # lifetimes' BaseFitter._fit: minimize(..., method="Nelder-Mead", tol=None, options={...})
    return optimize.minimize(nll, x0, args=args, method="Nelder-Mead")


def python_refs():
    s, sp = clv.load_summary(), clv.load_spend()
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    g = sp[sp["x"] > 0]
    gx, gm = g["x"].to_numpy(float), g["zbar"].to_numpy(float)
    x0 = np.array([0.0, np.log(T.max() / 10), 0.0, 0.0])
    r = 3 if QUICK else 7
    refs = {
        "FitBGNBD": [("scipy Nelder-Mead (lifetimes)", median_time(lambda: lifetimes_fit(clv.bgnbd_nll, x0, (x, tx, T, 0.0)), r)),
                     ("scipy tight NM+BFGS (golden)", median_time(lambda: clv.fit_bgnbd(s), r))],
        "FitGammaGamma": [("scipy Nelder-Mead (lifetimes)", median_time(lambda: lifetimes_fit(clv.gg_nll, np.zeros(3), (gx, gm, 0.0)), r)),
                          ("scipy tight NM+BFGS (golden)", median_time(lambda: clv.fit_gg(sp), r))],
    }
    split = conversion.prepare(1)

    def mlp():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier(hidden_layer_sizes=(50, 50), activation="relu", solver="adam", learning_rate_init=1e-3,
                          batch_size=100, alpha=0.0, max_iter=50, tol=0.0, n_iter_no_change=10**6,
                          random_state=1).fit(*split["train"])
    refs["TrainMLP"] = [("sklearn MLPClassifier, 50 epochs", median_time(mlp, 3 if QUICK else 7))]
    bg, gg = (0.2426, 4.4135, 0.7929, 2.4258), (6.25, 3.74, 15.45)
    n = 2000
    refs["PAlive"] = [("python p_alive, one customer", median_time(lambda: [clv.p_alive(bg, 3.0, 20.0, 38.0) for _ in range(n)], 3) / n)]
    refs["CLV"] = [("python lifetimes CLV, one customer", median_time(lambda: [clv.clv(bg, gg, 3.0, 20.0, 38.0, 30.0) for _ in range(200)], 3) / 200)]
    return refs


LINE = re.compile(r"^Benchmark(\w+)-\d+\s+\d+\s+([\d.]+) ns/op(?:\s+(\d+) B/op\s+(\d+) allocs/op)?")


def go_bench():
    # The network twice: the default build (gonum's pure-Go BLAS) and -tags openblas (cgo,
    # OpenBLAS from Debian's libopenblas-dev, the BLAS numpy uses here).
    runs = [("./models/clv", "^Benchmark(FitBGNBD|FitGammaGamma)$", "20x", 3 if QUICK else 5, ""),
            ("./models/clv", "^Benchmark(PAlive|CLV)$", "1s", 3, ""),
            ("./models/nn", "^BenchmarkTrainMLP$", "5x", 3 if QUICK else 5, ""),
            ("./models/nn", "^BenchmarkTrainMLP$", "5x", 3 if QUICK else 5, "openblas"),
            ("./models/nn", "^BenchmarkProb$", "1s", 3, "")]
    res = {}
    for pkg, pat, bt, count, tags in runs:
        out = subprocess.run(["go", "test", "-tags", tags, "-run", "^$", "-bench", pat, "-benchtime", bt, "-count", str(count), pkg],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            m = LINE.match(line)
            if m:
                name = m.group(1) + ("/" + tags if tags else "")
                e = res.setdefault(name, {"ns": [], "allocs": m.group(4)})
                e["ns"].append(float(m.group(2)))
    return {k: (statistics.median(v["ns"]) / 1e9, v["allocs"]) for k, v in res.items()}


def fmt(sec):
    for unit, f in (("s", 1), ("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
        if sec * f >= 1:
            return "%.3g %s" % (sec * f, unit)
    return "%.3g ns" % (sec * 1e9)


def main():
    refs = python_refs()
    gos = go_bench()
    rows = [("what", "reference", "ref median", "Go median", "Go allocs/op", "ref/Go")]
    for name in ("FitBGNBD", "FitGammaGamma", "TrainMLP", "TrainMLP/openblas", "PAlive", "CLV", "Prob"):
        g, allocs = gos.get(name, (float("nan"), "?"))
        for label, t in refs.get(name.split("/")[0], [("-", float("nan"))]):
            ratio = "%.1fx" % (t / g) if t == t else "-"
            rows.append((name, label, fmt(t) if t == t else "-", fmt(g), allocs or "-", ratio))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * x for x in w))
    print("\n(load average %s; 2 shared cores)" % " ".join("%.2f" % v for v in os.getloadavg()))


if __name__ == "__main__":
    main()
