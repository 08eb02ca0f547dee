#!/usr/bin/python3
"""Reference fits for models/segment.GaussianMixture, made with scikit-learn.

Writes models/segment/testdata/golden_gmm.json: on the course's segmentation data, standardized
(StandardScaler), scikit-learn's GaussianMixture(covariance_type="full") for k = 2..6 from a
given start (weights uniform, means the rows at fixed indices, precisions the identity), run to a
tight tolerance: the mean log-likelihood (score), BIC, weights, means, iterations and whether it
converged; and, of the same fitted mixture, scikit-learn's score() and bic() on every third row
(X[::3], rows the BIC's ln n and the log-likelihood's sum see differently from the fit's) with
the total log-likelihood score·n on both. The Go test starts from the same place and must reach
the same fit, and GMM.LogLikelihood and GMM.BIC must give those numbers.

Run from anywhere: /usr/bin/python3 scripts/golden/gmm.py
"""
import json
import os

import numpy as np
import pandas as pd
import sklearn
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
REL = os.path.join("customer_analytics_365", "segmentation data.csv")
OUT = os.path.join(ROOT, "models", "segment", "testdata", "golden_gmm.json")
TOL, MAX_ITER = 1e-10, 1000


def main():
    df = pd.read_csv(os.path.join(DATA, REL), index_col=0)
    X = StandardScaler().fit_transform(df.values.astype(np.float64))
    n, p = X.shape
    fits = []
    for k in range(2, 7):
        rows = [(i * 397 + 11) % n for i in range(k)]
        gm = GaussianMixture(n_components=k, covariance_type="full", tol=TOL, max_iter=MAX_ITER,
                             weights_init=np.full(k, 1.0 / k), means_init=X[rows],
                             precisions_init=np.array([np.eye(p)] * k), random_state=0).fit(X)
        fits.append({"k": k, "init_rows": rows, "log_likelihood": float(gm.score(X)), "bic": float(gm.bic(X)),
                     "weights": gm.weights_.tolist(), "means": gm.means_.tolist(),
                     "iterations": int(gm.n_iter_), "converged": bool(gm.converged_),
                     "total_log_likelihood": float(gm.score(X)) * n,
                     "third_rows_score": float(gm.score(X[::3])),
                     "third_rows_total_log_likelihood": float(gm.score(X[::3])) * len(X[::3]),
                     "third_rows_bic": float(gm.bic(X[::3]))})
    with open(OUT, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "tol": TOL, "max_iter": MAX_ITER, "fits": fits}, f, indent=1)
    for fit in fits:
        print(f"k={fit['k']}: loglik {fit['log_likelihood']:.10f} bic {fit['bic']:.6f} iter {fit['iterations']} converged {fit['converged']}")


if __name__ == "__main__":
    main()
