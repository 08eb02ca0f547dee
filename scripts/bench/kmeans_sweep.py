#!/usr/bin/python3
"""The k-means sweep, scikit-learn against models/segment, alternating in one run.

sklearn: KMeans(n_clusters=k, n_init=10, random_state=s).fit(z) for k = 2..10, s cycling
through 42..51, on the course's segmentation data standardized (what `segstream analyze
segmentation` sweeps). Go: BenchmarkKMeansSweep (segment.KMeansSweep, the same ks and seeds,
ChooseK's settings). Each round times sklearn (median of --repeats sweeps), then runs the Go
benchmark, so both see about the same load; "parallel" is two OpenMP threads against two
goroutines, "serial" one thread against one goroutine.

    /usr/bin/python3 scripts/bench/kmeans_sweep.py [--rounds 3] [--repeats 5]

The data set is read from $SEGSTREAM_DATA (default ../shared/data beside the repository root).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median_time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
PATH = os.path.join(DATA, "customer_analytics_365", "segmentation data.csv")


class Sweep:
    """One call is one k = 2..10 sweep; the random_state cycles 42..51 across calls."""

    def __init__(self, z, threads):
        self.z, self.threads, self.i = z, threads, 0

    def __call__(self):
        s = 42 + self.i % 10
        self.i += 1
        with threadpool_limits(limits=self.threads):
            for k in range(2, 11):
                KMeans(n_clusters=k, n_init=10, random_state=s).fit(self.z)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5, help="sklearn sweeps per round")
    ap.add_argument("--benchtime", default="10x", help="go -test.benchtime per round")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    raw = pd.read_csv(PATH, index_col=0).values.astype(np.float64)
    z = StandardScaler().fit_transform(raw)

    tmp = tempfile.mkdtemp(prefix="sweepbench")
    binary = os.path.join(tmp, "segment.test")
    subprocess.run(["go", "test", "-c", "-o", binary, "./models/segment/"], cwd=ROOT, check=True)
    pkgdir = os.path.join(ROOT, "models", "segment")
    print(f"segmentation data {raw.shape[0]}x{raw.shape[1]}, k=2..10, n_init=10; sklearn "
          f"{sklearn.__version__}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    res = {"parallel": ([], []), "serial": ([], [])}
    for r in range(args.rounds):
        for name, threads in (("serial", 1), ("parallel", 2)):
            sk = median_time(Sweep(z, threads), args.repeats, warmup=(r == 0))
            out = subprocess.run([binary, "-test.run", "^$", "-test.bench", f"^BenchmarkKMeansSweep$/^{name}$",
                                  "-test.benchtime", args.benchtime], cwd=pkgdir, check=True,
                                 capture_output=True, text=True).stdout
            m = re.search(r"([\d.]+) ns/op", out)
            go = float(m.group(1)) / 1e9
            res[name][0].append(sk)
            res[name][1].append(go)
            print(f"round {r} {name:<8} sklearn {sk*1e3:8.1f} ms  segstream {go*1e3:8.1f} ms  "
                  f"ratio {sk/go:5.2f}x  (load {os.getloadavg()[0]:.1f})", flush=True)
    for name, (sk, go) in res.items():
        s, g = statistics.median(sk), statistics.median(go)
        print(f"median {name:<8} sklearn {s*1e3:8.1f} ms  segstream {g*1e3:8.1f} ms  ratio {s/g:5.2f}x")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
