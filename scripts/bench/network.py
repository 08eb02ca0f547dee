#!/usr/bin/python3
"""Side-by-side times: models/network (Go) against networkx and igraph on one graph.

    /usr/bin/python3 scripts/bench/network.py [--nodes 100000] [--repeats 3]

Generates one undirected graph with planted communities (community sizes power-law between 20
and 500, degrees 4..16, a fifth of each node's edges leaving its community; a fixed seed),
writes it as an edge list to a temporary file, and times on that same graph in one run:
  pagerank     networkx pagerank (alpha 0.85, its default tol 1e-6: L1 change < n*tol) against Go
               with that stopping rule; igraph Graph.pagerank (PRPACK, exact) against Go to an
               L1 change below 1e-12
  communities  networkx louvain_communities (seed 1), igraph community_multilevel (Louvain) and
               community_leiden (modularity, 2 iterations), Go Communities (Leiden, seed 1)
with each community result's modularity beside its time. Medians of --repeats runs (networkx's
Louvain once: it takes minutes). The machine is shared: read ratios, not absolute times.
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

import igraph as ig
import networkx as nx
from networkx.algorithms import community
from timing import timed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def planted(n, seed=5):
    rng = random.Random(seed)
    truth, groups, v = [0] * n, [], 0
    a, b = 20 ** -0.5, 500 ** -0.5
    while v < n:
        size = min(max(int((a - rng.random() * (a - b)) ** -2), 20), n - v)
        groups.append(list(range(v, v + size)))
        for u in range(v, v + size):
            truth[u] = len(groups) - 1
        v += size
    edges = set()
    for v in range(n):
        for _ in range(rng.randint(4, 16) // 2):
            u = rng.randrange(n) if rng.random() < 0.2 else rng.choice(groups[truth[v]])
            if u != v:
                edges.add((min(u, v), max(u, v)))
    return sorted(edges)


def go_bench(path, repeats):
    cmd = ["go", "test", "-run", "-", "-bench", "EdgeListFile", "-count", str(repeats), "./models/network"]
    out = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, SEGSTREAM_NETWORK_EDGES=path),
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for name, ns in re.findall(r"BenchmarkEdgeListFile/(\w+)-\d+\s+\d+\s+([\d.]+) ns/op", out):
        res.setdefault(name, []).append(float(ns) / 1e9)
    mods = re.findall(r"([\d.]+) modularity", out)
    return {k: statistics.median(v) for k, v in res.items()}, (float(mods[-1]) if mods else float("nan"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    edges = planted(args.nodes)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "edges.csv")
        with open(path, "w") as f:
            f.write("source,target\n")
            f.writelines(f"{u},{v}\n" for u, v in edges)
        print(f"graph: {args.nodes} nodes, {len(edges)} edges; medians of {args.repeats}; cpus {os.cpu_count()}")
        G = nx.Graph()
        G.add_nodes_from(range(args.nodes))
        G.add_edges_from(edges)
        I = ig.Graph(n=args.nodes, edges=edges)
        go, go_q = go_bench(path, args.repeats)
        nx_pr, _ = timed(lambda: nx.pagerank(G), args.repeats)
        ig_pr, _ = timed(lambda: I.pagerank(), args.repeats)
        nx_lv, parts = timed(lambda: community.louvain_communities(G, seed=1), 1)
        nx_q = community.modularity(G, parts)
        ig_ml, cl = timed(lambda: I.community_multilevel(), args.repeats)
        ig_q = cl.modularity
        ig_ld, cl2 = timed(lambda: I.community_leiden(objective_function="modularity", n_iterations=2), args.repeats)
        ig_q2 = I.modularity(cl2.membership)
    print(f"{'':14}{'seconds':>10}{'modularity':>12}{'Go is faster by':>18}")
    rows = [
        ("pagerank (networkx's stopping rule)", [("networkx", nx_pr, None), ("Go", go.get("pagerank"), None)]),
        ("pagerank (exact)", [("igraph", ig_pr, None), ("Go, L1 < 1e-12", go.get("pagerank_exact"), None)]),
        ("communities", [("networkx louvain", nx_lv, nx_q), ("igraph multilevel", ig_ml, ig_q),
                         ("igraph leiden", ig_ld, ig_q2), ("Go leiden", go.get("communities"), go_q)]),
    ]
    for what, rs in rows:
        print(what)
        g = rs[-1][1]
        for name, t, q in rs:
            ratio = "" if name.startswith("Go") else f"{t / g:.2f}x"
            print(f"  {name:18}{t:10.3f}{'' if q is None else f'{q:12.4f}':>12}{ratio:>18}")


if __name__ == "__main__":
    sys.exit(main())
