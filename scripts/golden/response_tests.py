#!/usr/bin/python3
"""Reference values for the differentiable criterion's tests across segments (models/segment
ANOVA and KruskalWallis), computed with scipy.stats.f_oneway and scipy.stats.kruskal.

Writes models/segment/testdata/golden_response_tests.json: cases of values and segment labels
(made by a fixed formula, with ties, so Go needs no random generator to match) and, per case,
scipy's F statistic and p-value, and Kruskal-Wallis H (tie-corrected) and p-value.

Run from anywhere: /usr/bin/python3 scripts/golden/response_tests.py
"""
import json
import math
import os

from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "segment", "testdata", "golden_response_tests.json")


def case(name, sizes, shift, scale, decimals):
    values, labels = [], []
    i = 0
    for g, n in enumerate(sizes):
        for _ in range(n):
            # A deterministic, irregular sequence in (-1, 1): frac(i·φ) mapped, skewed by a square.
            u = (i * 0.6180339887498949) % 1.0
            v = (2 * u - 1) + 0.5 * (2 * u - 1) ** 2
            values.append(round(v * scale + shift * g, decimals))
            labels.append(g)
            i += 1
    groups = [[v for v, l in zip(values, labels) if l == g] for g in range(len(sizes))]
    f = stats.f_oneway(*groups)
    h = stats.kruskal(*groups)
    return {"name": name, "values": values, "labels": labels, "k": len(sizes),
            "f": float(f.statistic), "f_p": float(f.pvalue), "h": float(h.statistic), "h_p": float(h.pvalue)}


def main():
    cases = [
        case("apart", [30, 45, 25], 0.4, 1.0, 3),
        case("close, ties", [40, 40, 40, 40], 0.05, 2.0, 0),
        case("two groups", [12, 200], 0.3, 1.5, 2),
        case("same", [50, 50, 50], 0.0, 1.0, 4),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(cases, fh, indent=1)
        fh.write("\n")
    for c in cases:
        print(c["name"], c["f"], c["f_p"], c["h"], c["h_p"])


if __name__ == "__main__":
    main()
