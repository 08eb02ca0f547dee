#!/usr/bin/python3
"""Reference within-cluster sums of squares for the k-means sweep, computed with scikit-learn.

Reads the course's segmentation data from $SEGSTREAM_DATA (default ../shared/data beside the
repository root), builds the two matrices segstream's automatic choices of k cluster, and for
k = 2..10 writes to models/segment/testdata/golden_kmeans_sweep.json:

  - sklearn: KMeans(n_clusters=k, n_init=10, random_state=42).inertia_, the bar
    TestKMeansSweepMatchesSklearn holds segstream's sweep to;
  - sklearn_seeds: the same fit with random_state 0..SEEDS-1: best, median and worst, so the
    bar's luck is visible;
  - best_known: the lowest inertia found by anything here (those fits and one
    KMeans(n_init=BIG_N_INIT) run), the best-known optimum.

The matrices:

  - standardized: StandardScaler on the 7 columns, what `segstream analyze segmentation`
    (analysis.Segmentation → segment.ChooseK) sweeps;
  - pca80: standardized, then the first principal components explaining at least 80% of the
    variance (at least 2), what the retrainer's sweep (models/bundle chooseK) and
    segment.Search's "pca" preprocessing cluster. Component signs do not change an inertia.

Only numbers derived from the data are written, never the data itself.

Run from anywhere (about a minute on two cores):

    /usr/bin/python3 scripts/golden/kmeans_sweep.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
REL = os.path.join("customer_analytics_365", "segmentation data.csv")
OUT = os.path.join(ROOT, "models", "segment", "testdata", "golden_kmeans_sweep.json")

KS = range(2, 11)
N_INIT = 10
SEED = 42
SEEDS = 50  # random_state 0..SEEDS-1 for the spread of sklearn's own results
BIG_N_INIT = 500  # one long run for the best-known optimum
VARIANCE_KEPT = 0.8


def spaces(raw):
    z = StandardScaler().fit_transform(raw)
    pca = PCA().fit(z)
    cum = np.cumsum(pca.explained_variance_ratio_)
    dims = max(int(np.searchsorted(cum, VARIANCE_KEPT - 1e-12) + 1), min(2, z.shape[1]))
    return {"standardized": z, "pca80": pca.transform(z)[:, :dims]}


def sweep(x):
    out = []
    for k in KS:
        ref = KMeans(n_clusters=k, n_init=N_INIT, random_state=SEED).fit(x)
        seeds = [KMeans(n_clusters=k, n_init=N_INIT, random_state=s).fit(x).inertia_
                 for s in range(SEEDS)]
        big = KMeans(n_clusters=k, n_init=BIG_N_INIT, random_state=SEED).fit(x).inertia_
        out.append({
            "k": k,
            "sklearn": float(ref.inertia_),
            "sklearn_n_iter": int(ref.n_iter_),
            "sklearn_seeds": {"best": float(min(seeds)), "median": float(np.median(seeds)),
                              "worst": float(max(seeds))},
            "best_known": float(min(min(seeds), big, ref.inertia_)),
        })
        print(f"k={k:2d} sklearn {ref.inertia_:.6f}  seeds best {min(seeds):.6f} "
              f"worst {max(seeds):.6f}  n_init={BIG_N_INIT} {big:.6f}", file=sys.stderr)
    return out


def main():
    raw = pd.read_csv(os.path.join(DATA, REL), index_col=0).values.astype(np.float64)
    out = {
        "source": REL,
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__},
        "params": {"n_init": N_INIT, "random_state": SEED, "seeds": SEEDS,
                   "big_n_init": BIG_N_INIT, "variance_kept": VARIANCE_KEPT,
                   "algorithm": "lloyd"},
        "spaces": {},
    }
    with threadpool_limits(limits=1):  # the machine is shared; one thread is enough here
        for name, x in spaces(raw).items():
            print(f"{name}: {x.shape[0]}x{x.shape[1]}", file=sys.stderr)
            out["spaces"][name] = {"dims": int(x.shape[1]), "by_k": sweep(x)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
