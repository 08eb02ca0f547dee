#!/usr/bin/python3
"""Reference values for models/network, computed with networkx.

Writes models/network/testdata/golden_network.json: for each graph, its edges (so the Go test
needs no networkx) and networkx's PageRank (alpha 0.85, weighted), eigenvector centrality
(weighted; in-edges for a directed graph), betweenness and closeness (hop counts, networkx's
normalization) and the modularity of networkx's Louvain communities (weighted, on the undirected
graph), over several seeds; the Go test requires Leiden to reach at least the best of them minus
0.01.

The graphs are ones networkx ships (Zachary's karate club, Les Miserables, the Florentine
families, Davis' southern women) and generated ones the Go code cannot be tuned to: a directed
weighted G(n, p), a directed scale-free graph (repeated edges summed into weights) and an
undirected graph with planted communities, each from a fixed seed. A directed graph's repeated
edges are summed, as segstream sums repeated interactions.

The iterative measures are run to a tolerance far below the test's (1e-6 relative), so the
golden values are the fixed points themselves, not networkx's default stopping point.

Run from anywhere: /usr/bin/python3 scripts/golden/network.py
"""
import json
import os
import random

import numpy as np
import pandas as pd
import scipy.sparse as sp

import networkx as nx
from networkx.algorithms import community

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "network", "testdata", "golden_network.json")
DATA = os.environ.get("SEGSTREAM_DATA") or os.path.join(ROOT, "..", "shared", "data")
RETAIL = os.path.join("online_retail", "Online Retail.csv.gz")
LOUVAIN_SEEDS = range(5)


def summed_digraph(multi):
    """A DiGraph whose edge weights sum the multigraph's parallel edges (weight 1 each when
    unweighted); self-loops are dropped, as segstream refuses them."""
    g = nx.DiGraph()
    g.add_nodes_from(multi.nodes())
    for u, v, d in multi.edges(data=True):
        if u == v:
            continue
        w = d.get("weight", 1.0)
        if g.has_edge(u, v):
            g[u][v]["weight"] += w
        else:
            g.add_edge(u, v, weight=w)
    return g


def weighted(g):
    """g with every edge weighted (1 where it had none) and its nodes renamed 0..n-1 in
    sorted-by-insertion order, so the Go test indexes them directly."""
    mapping = {u: i for i, u in enumerate(g.nodes())}
    h = nx.relabel_nodes(g, mapping)
    for _, _, d in h.edges(data=True):
        d["weight"] = float(d.get("weight", 1.0))
    return h


def generated():
    rng = random.Random(20261205)
    out = {}
    # A directed, weighted G(n, p) with dangling nodes.
    g = nx.gnp_random_graph(300, 0.012, seed=7, directed=True)
    for _, _, d in g.edges(data=True):
        d["weight"] = float(rng.randint(1, 9))
    out["gnp_directed_weighted"] = g
    # A directed scale-free graph: parallel edges become weights.
    out["scale_free_directed"] = summed_digraph(nx.scale_free_graph(400, seed=11))
    # Planted communities: 8 groups of 25..60 nodes, dense inside, sparse across.
    sizes = [25, 30, 35, 40, 45, 50, 55, 60]
    pp = nx.random_partition_graph(sizes, 0.25, 0.01, seed=3)
    pp.graph.pop("partition", None)
    for _, _, d in pp.edges(data=True):
        d["weight"] = float(rng.choice([1, 1, 2, 3]))
    out["planted_partition"] = pp
    return out


def graphs():
    out = {
        "karate": nx.karate_club_graph(),
        "les_miserables": nx.les_miserables_graph(),
        "florentine_families": nx.florentine_families_graph(),
        "davis_southern_women": nx.davis_southern_women_graph(),
    }
    out.update(generated())
    return {name: weighted(g) for name, g in out.items()}


def record(g):
    directed = g.is_directed()
    n = g.number_of_nodes()
    pr = nx.pagerank(g, alpha=0.85, weight="weight", tol=1e-15, max_iter=100000)
    ev = nx.eigenvector_centrality(g, weight="weight", tol=1e-15, max_iter=1000000)
    bc = nx.betweenness_centrality(g, normalized=True, weight=None)
    cc = nx.closeness_centrality(g)
    und = g.to_undirected() if not directed else summed_undirected(g)
    mods = []
    for seed in LOUVAIN_SEEDS:
        parts = community.louvain_communities(und, weight="weight", seed=seed)
        mods.append(community.modularity(und, parts, weight="weight"))
    return {
        "directed": directed,
        "nodes": n,
        "edges": [[u, v, d["weight"]] for u, v, d in g.edges(data=True)],
        "pagerank": [pr[i] for i in range(n)],
        "eigenvector": [ev[i] for i in range(n)],
        "betweenness": [bc[i] for i in range(n)],
        "closeness": [cc[i] for i in range(n)],
        "louvain_modularity": max(mods),
    }


def summed_undirected(g):
    """The undirected graph of a directed one, the two directions' weights summed."""
    u = nx.Graph()
    u.add_nodes_from(g.nodes())
    for a, b, d in g.edges(data=True):
        if u.has_edge(a, b):
            u[a][b]["weight"] += d["weight"]
        else:
            u.add_edge(a, b, weight=d["weight"])
    return u


def copurchase():
    """The co-purchase sociogram of Online Retail by pandas and scipy: customers linked by the
    distinct products (StockCode) both bought, purchases only (the preset's cleaning: a customer,
    quantity and price positive, not a cancelled invoice). For each threshold: linked customers,
    links, the links' total weight, and the ten highest degrees with their customers."""
    df = pd.read_csv(os.path.join(DATA, RETAIL), encoding="latin1",
                     dtype={"CustomerID": str, "StockCode": str, "InvoiceNo": str})
    df = df[df.CustomerID.notna() & (df.Quantity > 0) & (df.UnitPrice > 0) & ~df.InvoiceNo.str.startswith("C")]
    df = df.assign(CustomerID=df.CustomerID.str.replace(r"\.0$", "", regex=True))
    pairs = df[["CustomerID", "StockCode"]].drop_duplicates()
    cust = pairs.CustomerID.astype("category")
    prod = pairs.StockCode.astype("category")
    m = sp.csr_matrix((np.ones(len(pairs)), (cust.cat.codes.values, prod.cat.codes.values)))
    shared = sp.triu(m @ m.T, k=1).tocoo()
    out = {}
    for th in (10, 20):
        keep = shared.data >= th
        rows, cols, w = shared.row[keep], shared.col[keep], shared.data[keep]
        deg = np.bincount(np.concatenate([rows, cols]), minlength=m.shape[0])
        top = np.argsort(-deg, kind="stable")[:10]
        names = cust.cat.categories
        out[str(th)] = {
            "nodes": int((deg > 0).sum()),
            "edges": int(keep.sum()),
            "weight": float(w.sum()),
            "top_degree": [[str(names[i]), int(deg[i])] for i in top],
        }
    return out


def main():
    out = {"networkx": nx.__version__, "graphs": {}, "copurchase_online_retail": copurchase()}
    for name, g in graphs().items():
        out["graphs"][name] = record(g)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
