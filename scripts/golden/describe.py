#!/usr/bin/python3
"""Reference values for `segstream analyze describe`, computed with pandas group-bys.

Writes cmd/segstream/testdata/groups.csv, a customer_id,group file that puts the course's
customers in four groups by a multiplicative hash of their id and leaves about one in twenty
without a group, and cmd/segstream/testdata/golden_describe.json: per group the customers, their
share, the mean and sample standard deviation (pandas' std) of visits, purchases and purchase
rate per customer, each brand's share of the group's purchases, the course's average brand choice
(each buying customer's brand shares, averaged), and the revenue (quantity × the chosen brand's
price) in all and by brand.

Run from anywhere: /usr/bin/python3 scripts/golden/describe.py
"""
import json
import os

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
PURCHASES = os.path.join(DATA, "customer_analytics_365", "purchase_data_no_demographics.csv")
OUT = os.path.join(ROOT, "cmd", "segstream", "testdata")


def group_of(cid):
    h = (cid * 2654435761) % (1 << 32)
    if h % 20 == 0:
        return None
    return ["loyal", "bargain", "standard", "occasional"][(h >> 8) % 4]


def main():
    df = pd.read_csv(PURCHASES)
    ids = sorted(df.ID.unique())
    groups = pd.DataFrame({"customer_id": ids, "group": [group_of(int(i)) for i in ids]}).dropna()
    os.makedirs(OUT, exist_ok=True)
    groups.to_csv(os.path.join(OUT, "groups.csv"), index=False)

    df = df.merge(groups.rename(columns={"customer_id": "ID"}), on="ID", how="inner")
    per = df.groupby("ID").agg(visits=("Incidence", "size"), purchases=("Incidence", "sum"), group=("group", "first"))
    per["rate"] = per.purchases / per.visits
    bought = df[df.Incidence == 1].copy()
    dummies = pd.get_dummies(bought.Brand).astype(float)
    dummies = dummies.reindex(columns=[1, 2, 3, 4, 5], fill_value=0.0)
    dummies["ID"], dummies["group"] = bought.ID.values, bought.group.values
    choice = dummies.groupby("ID").agg({**{b: "mean" for b in [1, 2, 3, 4, 5]}, "group": "first"})
    for b in range(1, 6):
        bought[f"rev{b}"] = (bought.Brand == b) * bought[f"Price_{b}"] * bought.Quantity

    out = {"rows": int(len(pd.read_csv(PURCHASES))), "segments": []}
    total_customers = len(per)
    for g, p in per.groupby("group"):
        bg = bought[bought.group == g]
        counts = bg.Brand.value_counts()
        n = counts.sum()
        ch = choice[choice.group == g]
        seg = {
            "segment": g,
            "customers": int(len(p)),
            "share": len(p) / total_customers,
            "visits_mean": float(p.visits.mean()), "visits_sd": float(p.visits.std()),
            "purchases_mean": float(p.purchases.mean()), "purchases_sd": float(p.purchases.std()),
            "purchase_rate_mean": float(p.rate.mean()), "purchase_rate_sd": float(p.rate.std()),
            "brand_shares": {str(b): float(counts.get(b, 0) / n) for b in range(1, 6)},
            "brand_choice_mean": {str(b): float(ch[b].mean()) for b in range(1, 6)},
            "revenue_by_brand": {str(b): float(bg[f"rev{b}"].sum()) for b in range(1, 6)},
        }
        seg["revenue"] = float(sum(seg["revenue_by_brand"].values()))
        out["segments"].append(seg)
    out["customers"] = total_customers
    with open(os.path.join(OUT, "golden_describe.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(f"{total_customers} customers in {len(out['segments'])} groups")


if __name__ == "__main__":
    main()
