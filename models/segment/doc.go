// Package segment is the customer-segmentation math segstream trains and serves: a standard
// scaler, PCA, k-means (k-means++ seeding, restarts, Lloyd iterations) and mini-batch k-means,
// Ward hierarchical clustering, a full-covariance Gaussian mixture, DBSCAN, cluster-validity
// indices with a k chooser, the gap statistic and bootstrap stability, Search (the choice of
// preprocessing, algorithm and k by a documented, stability-first rule), identity matching of
// segments across refits, and a zero-allocation scorer for one customer.
//
// Every fit is written to agree with scikit-learn 1.2 and scipy 1.10 (the versions Debian ships
// and scripts/golden/segmentation.py checks against): population standard deviations,
// explained variance with n-1, sklearn's greedy k-means++ and Lloyd stopping rule, scipy's Ward
// heights. Random choices use math/rand/v2 PCG seeded from the options, so a fit is a pure
// function of its input and seed; the numbers drawn differ from numpy's, so labels agree with
// sklearn up to the clustering found, not bit for bit.
//
// Data are *mat.Dense with one row per customer. Cluster labels are canonical: cluster 0 is the
// largest, ties broken by the row where a cluster first appears (see Canonicalize), so runs are
// reproducible and comparable; a row a density method or a mixture's noise component leaves
// unassigned is labelled Noise (-1). docs/models/segmentation.md has the conventions and
// figures.
//
// # Guarantees
//
//   - No I/O: every function is a pure function of its input and seed (Search's Budget reads
//     the clock only to stop early, and reports what it skipped).
//   - Determinism: parallel work (restarts, bands, bootstrap refits) is split into tasks whose
//     results do not depend on which goroutine ran them, so results do not depend on
//     GOMAXPROCS.
package segment
