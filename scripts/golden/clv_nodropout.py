#!/usr/bin/python3
"""Reference numbers for models/bundle's CLV series in the BG/NBD's no-dropout limit.

The refit in `segstream bench ingest`'s scoring pass fits its synthetic customers, who never
leave, with r and alpha in the millions and a near 0. There scipy's and clv.Model's hyp2f1
lose digits: E[Y(t)] is a difference of two numbers near 1 scaled by (a+b+x-1)/(a-1) ~ -8e4.
This script evaluates Fader, Hardie and Lee (2005) eq. 10 and P(alive) with mpmath at 60
significant digits, for each month t = 1..12 (4.345 weeks a month) over the grid of customers
that TestCLVFastNoDropout uses, and E[X(t)] (eq. 7) of a new customer at four t.

Needs python3-mpmath. Output: models/bundle/testdata/clv_nodropout.json.
Run: /usr/bin/python3 scripts/golden/clv_nodropout.py
"""
import json
import os

import mpmath as mp

mp.mp.dps = 60
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "bundle", "testdata", "clv_nodropout.json")

PARAMS = {"r": 2.0802598179404926e06, "alpha": 4.0401513389168985e07,
          "a": 1.4123082362098988e-05, "b": 84528.08518951116}
MONTHS, PER_MONTH = 12, 4.345
r, al, a, b = (mp.mpf(PARAMS[k]) for k in ("r", "alpha", "a", "b"))


def expected(t, x, tx, T):
    """E[Y(t) | x, t_x, T], eq. 10."""
    z = t / (al + T + t)
    h = mp.hyp2f1(r + x, b + x, a + b + x - 1, z)
    num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * h)
    return num / den(x, tx, T)


def den(x, tx, T):
    if x == 0:
        return mp.mpf(1)
    return 1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x)


customers = []
for x in (0, 1, 2, 5, 10, 30, 80):
    for T in (0, 0.5, 4, 20, 52, 150):
        for frac in (0, 0.3, 1):
            tx = T * frac
            xm, txm, Tm = mp.mpf(x), mp.mpf(tx), mp.mpf(T)
            cum = [float(expected(mp.mpf(i) * mp.mpf(PER_MONTH), xm, txm, Tm)) for i in range(1, MONTHS + 1)]
            customers.append({"x": x, "tx": tx, "T": T, "expected_by_month": cum,
                              "p_alive": float(1 / den(xm, txm, Tm))})

def unconditional(t):
    """E[X(t)], eq. 7: a new customer's expected repeat purchases in her first t units."""
    h = mp.hyp2f1(r, b, a + b - 1, t / (al + t))
    return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * h)


new = [{"t": t, "expected": float(unconditional(mp.mpf(t)))} for t in (1, 4.345, 52, 260)]

with open(OUT, "w") as f:
    json.dump({"params": PARAMS, "months": MONTHS, "per_month": PER_MONTH,
               "customers": customers, "new_customer": new}, f, indent=1)
print(f"wrote {len(customers)} customers to {OUT}")
