#!/usr/bin/python3
"""Golden RFM numbers for models/rfm, computed with pandas from UCI Online Retail.

Usage: /usr/bin/python3 scripts/golden/rfm.py   (needs Debian's python3-pandas)

Reads $SEGSTREAM_DATA (default: ../shared/data beside the repository root) and writes
models/rfm/testdata/:
  online_retail_rfm.csv    one row per customer: customer_id, last_purchase, recency_days,
                           frequency, monetary, r, f, m
  online_retail_edges.json as_of, customers, and the 0.2/0.4/0.6/0.8 quantile edges of
                           recency_days, frequency and monetary

Only derived per-customer numbers are written, never the data set itself.

Cleaning is the usual one for RFM: rows with a customer id, invoices not starting with "C",
Quantity > 0 and UnitPrice > 0. recency_days is the whole days from the last purchase to as-of
(Timedelta.days, rounded down); frequency is the number of distinct invoices; monetary is the sum
of Quantity * UnitPrice.

Scores use pd.qcut with 5 quantile bins (right-inclusive, lowest bin includes its left edge):
R is labelled 5..1 (recent is better), F and M 1..5. When a variable's quantile edges are not
unique pd.qcut refuses them; the script then falls back to the same rule written out
(1 + number of edges strictly below the value) and says so on stderr.
"""
import json
import os
import sys

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "models", "rfm", "testdata")
AS_OF = pd.Timestamp("2011-12-10 12:50:00")
QS = [0.2, 0.4, 0.6, 0.8]


def score(x, labels):
    """pd.qcut into quintiles; the explicit rule when the edges are not unique."""
    try:
        return pd.qcut(x, 5, labels=labels).astype(int)
    except ValueError as e:
        print(f"pd.qcut refused {x.name}: {e}; using the explicit edge rule", file=sys.stderr)
        edges = x.quantile(QS).to_numpy()
        b = np.searchsorted(edges, x.to_numpy(), side="left")  # edges strictly below the value
        return pd.Series(np.asarray(labels)[b], index=x.index).astype(int)


def main():
    path = os.path.join(DATA, "online_retail", "Online Retail.csv.gz")
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    df = df[df["CustomerID"].notna()]
    df = df[~df["InvoiceNo"].str.startswith("C")]
    df = df[(df["Quantity"] > 0) & (df["UnitPrice"] > 0)]
    df = df.assign(Line=df["Quantity"] * df["UnitPrice"])

    g = df.groupby("CustomerID")
    rfm = pd.DataFrame({
        "last_purchase": g["InvoiceDate"].max(),
        "frequency": g["InvoiceNo"].nunique(),
        "monetary": g["Line"].sum(),
    })
    rfm["recency_days"] = (AS_OF - rfm["last_purchase"]).dt.days
    rfm["r"] = score(rfm["recency_days"], [5, 4, 3, 2, 1])
    rfm["f"] = score(rfm["frequency"], [1, 2, 3, 4, 5])
    rfm["m"] = score(rfm["monetary"], [1, 2, 3, 4, 5])

    edges = {
        "as_of": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "customers": int(len(rfm)),
        "quantiles": QS,
        "recency_days": rfm["recency_days"].quantile(QS).tolist(),
        "frequency": rfm["frequency"].quantile(QS).tolist(),
        "monetary": rfm["monetary"].quantile(QS).tolist(),
    }
    os.makedirs(OUT, exist_ok=True)
    out = rfm.reset_index().rename(columns={"CustomerID": "customer_id"})
    out["customer_id"] = out["customer_id"].astype(int)
    out = out.sort_values("customer_id")
    out["last_purchase"] = out["last_purchase"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Full precision (repr), so Go computes the monetary edges from the very same numbers.
    out["monetary"] = out["monetary"].map(repr)
    out[["customer_id", "last_purchase", "recency_days", "frequency", "monetary", "r", "f", "m"]].to_csv(
        os.path.join(OUT, "online_retail_rfm.csv"), index=False, lineterminator="\n")
    with open(os.path.join(OUT, "online_retail_edges.json"), "w") as f:
        json.dump(edges, f, indent=2)
        f.write("\n")
    print(f"{len(rfm)} customers; edges {json.dumps(edges)}")


if __name__ == "__main__":
    main()
