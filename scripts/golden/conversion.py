#!/usr/bin/python3
"""Reference numbers for models/nn and models/metrics.

1. Metrics: sklearn.metrics (accuracy_score, roc_auc_score, log_loss, brier_score_loss) on fixed
   predictions with many ties, stored with the predictions themselves.
2. The Audiobooks split exactly as Go's nn.PrepareCourse makes it (course balancing: keep the
   first zeros; sklearn.preprocessing.scale; the splitmix64 permutation of nn.PortablePerm;
   80/10/10), fingerprinted by the ids of the test rows.
3. On that split: LogisticRegression(C=1) (the same L2 as choice.FitLogit with L2 = 1) and an
   MLPClassifier with the Go network's settings (50-50 ReLU, Adam 1e-3, batch 100, early
   stopping on our validation set with patience 10, best weights restored), test metrics.

Data from $SEGSTREAM_DATA (default ../shared/data beside the repository root). Output:
models/nn/testdata/golden.json. Run: /usr/bin/python3 scripts/golden/conversion.py
"""
import copy
import json
import os
import sys

import numpy as np
from sklearn import metrics, preprocessing
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(ROOT, "..", "shared", "data"))
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def portable_perm(n, seed):
    base = (seed * 0x9E3779B97F4A7C15) & M64
    keys = [splitmix64((base + i) & M64) for i in range(n)]
    return sorted(range(n), key=lambda i: (keys[i], i))


def load():
    raw = np.loadtxt(os.path.join(DATA, "audiobooks", "Audiobooks_data.csv"), delimiter=",")
    return raw[:, 0].astype(int), raw[:, 1:-1], raw[:, -1]


def prepare(seed):
    ids, x, y = load()
    # The course: keep the first zeros until there are as many as ones.
    n1 = int(y.sum())
    keep, zeros = [], 0
    for i in range(len(y)):
        if y[i] == 0:
            zeros += 1
            if zeros > n1:
                continue
        keep.append(i)
    ids, x, y = ids[keep], preprocessing.scale(x[keep]), y[keep]
    p = portable_perm(len(y), seed)
    ids, x, y = ids[p], x[p], y[p]
    n = len(y)
    nt, nv = int(0.8 * n), int(0.1 * n)
    return {"train": (x[:nt], y[:nt]), "val": (x[nt:nt + nv], y[nt:nt + nv]),
            "test": (x[nt + nv:], y[nt + nv:]), "test_ids": ids[nt + nv:]}


def scores(y, p):
    return {"accuracy": float(metrics.accuracy_score(y, p > 0.5)),
            "auc": float(metrics.roc_auc_score(y, p)),
            "log_loss": float(metrics.log_loss(y, p)),
            "brier": float(metrics.brier_score_loss(y, p))}


def fit_logit(s):
    # newton-cholesky: lbfgs stops about 1e-3 short on these nearly collinear columns.
    m = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    m.fit(*s["train"])
    return m


def fit_mlp(s, seed, max_epochs=200, patience=10, early_stopping=True):
    """One partial_fit call is one shuffled epoch; keep the weights of the best validation
    loss, stop after `patience` epochs without improvement, as nn.Train does."""
    m = MLPClassifier(hidden_layer_sizes=(50, 50), activation="relu", solver="adam",
                      learning_rate_init=1e-3, batch_size=100, alpha=0.0, random_state=seed,
                      shuffle=True)
    (xt, yt), (xv, yv) = s["train"], s["val"]
    best, best_loss, best_epoch, stale, epoch = None, np.inf, 0, 0, 0
    for epoch in range(1, max_epochs + 1):
        m.partial_fit(xt, yt, classes=[0.0, 1.0])
        if not early_stopping:
            continue
        vl = metrics.log_loss(yv, m.predict_proba(xv)[:, 1])
        if vl < best_loss:
            best, best_loss, best_epoch, stale = copy.deepcopy(m), vl, epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    return (best if best is not None else m), epoch, best_epoch


def fixed_predictions():
    rng = np.random.default_rng(20240607)
    y = rng.integers(0, 2, 200).astype(float)
    # Scores rounded to one decimal: many ties, including ties across the classes, and the
    # exact 0.5 that accuracy must treat as class 0.
    p = np.clip(np.round(0.35 * y + 0.65 * rng.random(200), 1), 0.0, 1.0)
    p[:3] = [0.5, 0.5, 0.0]
    p[3:6] = [1.0, 0.999999, 1e-9]
    return y, p


def main():
    y, p = fixed_predictions()
    out = {"source": "scripts/golden/conversion.py (scikit-learn %s, numpy %s)" % (
        __import__("sklearn").__version__, np.__version__),
        "metrics_fixed": {"y": y.tolist(), "p": p.tolist(), "sklearn": scores(y, p)},
        "splits": [], "seed": 1}
    for seed in (1, 2, 3):
        s = prepare(seed)
        lg = fit_logit(s)
        out["splits"].append({
            "seed": seed,
            "n_train": len(s["train"][1]), "n_val": len(s["val"][1]), "n_test": len(s["test"][1]),
            "test_ids_sum": int(s["test_ids"].sum()), "test_ids_head": s["test_ids"][:5].tolist(),
            "logit_test": scores(s["test"][1], lg.predict_proba(s["test"][0])[:, 1]),
            "logit_coef": [float(lg.intercept_[0])] + lg.coef_[0].tolist(),
        })
    s = prepare(1)
    mlp, epochs, best_epoch = fit_mlp(s, 1)
    out["mlp_sklearn"] = {"seed": 1, "epochs": epochs, "best_epoch": best_epoch,
                          "test": scores(s["test"][1], mlp.predict_proba(s["test"][0])[:, 1]),
                          "val": scores(s["val"][1], mlp.predict_proba(s["val"][0])[:, 1])}
    path = os.path.join(ROOT, "models", "nn", "testdata", "golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({"logit": out["splits"][0]["logit_test"], "mlp": out["mlp_sklearn"]}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
