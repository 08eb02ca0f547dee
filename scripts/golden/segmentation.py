#!/usr/bin/python3
"""Reference values for models/segment, computed with scikit-learn and scipy.

Reads the course's segmentation data from $SEGSTREAM_DATA (default ../shared/data beside the
repository root) and writes models/segment/testdata/golden_segmentation.json. Only numbers derived
from the data are written, never the data itself.

Run from anywhere: /usr/bin/python3 scripts/golden/segmentation.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import scipy
import sklearn
from scipy.cluster import hierarchy
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (calinski_harabasz_score, davies_bouldin_score,
                             silhouette_score)
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
REL = os.path.join("customer_analytics_365", "segmentation data.csv")
OUT = os.path.join(ROOT, "models", "segment", "testdata", "golden_segmentation.json")

K = 4
N_INIT = 10
SEED = 42
N_PCA = 3
# Every SCORE_STEP-th row's PCA scores are stored: enough to check the projection and the signs
# without committing a copy of the data set's size.
SCORE_STEP = 4


def labels_by_size(labels):
    """Renumbers labels 0..k-1 by decreasing cluster size, ties by first appearance, which is
    the canonical numbering models/segment uses."""
    labels = np.asarray(labels)
    uniq, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
    remap = {uniq[i]: r for r, i in enumerate(order)}
    return [int(remap[v]) for v in labels], [int(counts[i]) for i in order]


def kmeans_block(X, k):
    km = KMeans(n_clusters=k, init="k-means++", n_init=N_INIT, random_state=SEED).fit(X)
    labels, sizes = labels_by_size(km.labels_)
    return km, {
        "inertia": float(km.inertia_),
        "labels": labels,
        "sizes": sizes,
        "n_iter": int(km.n_iter_),
        "silhouette": float(silhouette_score(X, km.labels_)),
        "calinski_harabasz": float(calinski_harabasz_score(X, km.labels_)),
        "davies_bouldin": float(davies_bouldin_score(X, km.labels_)),
    }


def main():
    path = os.path.join(DATA, REL)
    df = pd.read_csv(path, index_col=0)  # pandas accepts CRLF
    raw = df.values.astype(np.float64)

    scaler = StandardScaler().fit(raw)
    X = scaler.transform(raw)

    pca = PCA().fit(X)
    scores = pca.transform(X)
    # Loadings: correlation of each feature with each component for standardized input.
    loadings = pca.components_.T * np.sqrt(pca.explained_variance_)

    km, kmeans = kmeans_block(X, K)
    _, pca_kmeans = kmeans_block(scores[:, :N_PCA], K)

    ward = AgglomerativeClustering(n_clusters=K, linkage="ward").fit(X)
    ward_labels, ward_sizes = labels_by_size(ward.labels_)
    Z = hierarchy.ward(X)

    by_k = []
    for k in range(2, 11):
        m = KMeans(n_clusters=k, init="k-means++", n_init=N_INIT, random_state=SEED).fit(X)
        by_k.append({"k": k, "wcss": float(m.inertia_),
                     "silhouette": float(silhouette_score(X, m.labels_))})

    out = {
        "source": REL,
        "versions": {"sklearn": sklearn.__version__, "scipy": scipy.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
        "params": {"k": K, "n_init": N_INIT, "random_state": SEED, "pca": N_PCA,
                   "score_step": SCORE_STEP},
        "n": int(raw.shape[0]),
        "features": list(df.columns),
        "scaler": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
        "pca": {
            "components": pca.components_.tolist(),
            "explained_variance": pca.explained_variance_.tolist(),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "singular_values": pca.singular_values_.tolist(),
            "loadings": loadings.tolist(),
            "scores_rows": list(range(0, raw.shape[0], SCORE_STEP)),
            "scores": scores[::SCORE_STEP].tolist(),
        },
        "kmeans": kmeans,
        "kmeans_centroids_by_size": None,
        "pca_kmeans": pca_kmeans,
        "ward": {
            "labels": ward_labels,
            "sizes": ward_sizes,
            # Heights of the last merges (scipy convention), highest last.
            "top_heights": Z[-10:, 2].tolist(),
            "silhouette": float(silhouette_score(X, ward.labels_)),
            "calinski_harabasz": float(calinski_harabasz_score(X, ward.labels_)),
            "davies_bouldin": float(davies_bouldin_score(X, ward.labels_)),
        },
        "by_k": by_k,
    }
    # Centroids in the canonical (size) order.
    order = sorted(range(K), key=lambda c: (-int((km.labels_ == c).sum()),
                                             int(np.argmax(km.labels_ == c))))
    out["kmeans_centroids_by_size"] = km.cluster_centers_[order].tolist()

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: kmeans inertia {kmeans['inertia']:.6f} sizes {kmeans['sizes']}, "
          f"ward sizes {ward_sizes}", file=sys.stderr)


if __name__ == "__main__":
    main()
