#!/usr/bin/python3
"""LFR benchmark graphs for models/network, made and measured with networkx.

Writes models/network/testdata/lfr.json.gz: LFR benchmark graphs (Lancichinetti, Fortunato and
Radicchi 2008; networkx's LFR_benchmark_graph) of 10,000 nodes with planted communities, at two
mixing parameters mu (the share of each node's edges that leave its community): each graph's
edges, its planted community per node, and the best modularity of networkx's Louvain over five
seeds. The Go test requires Leiden to find the planted communities (normalized mutual
information at least 0.9) with a modularity at least Louvain's minus 0.01, every community
connected.

Parameters: degree exponent 3, community-size exponent 1.5, average degree 20, maximum degree
50, communities of 20 to 100 nodes (the LFR paper's "big" communities), seed 10. With average
degree 10 the communities are so sparse that modularity's resolution limit merges them (Louvain
and Leiden both find about half as many as planted, NMI 0.88 at mu 0.3).

Each graph's edges are stored as, per node u, the gaps between its sorted neighbours above u
(the first gap from u), which halves the file.

Run from anywhere: /usr/bin/python3 scripts/golden/network_lfr.py
"""
import gzip
import json
import os

import networkx as nx
from networkx.algorithms import community

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "network", "testdata", "lfr.json.gz")


def lfr(mu):
    g = nx.LFR_benchmark_graph(10000, 3, 1.5, mu, average_degree=20, max_degree=50,
                               min_community=20, max_community=100, seed=10)
    planted = {}
    for v in sorted(g.nodes()):
        c = frozenset(g.nodes[v]["community"])
        planted.setdefault(c, len(planted))
    g.remove_edges_from(nx.selfloop_edges(g))
    mods = []
    for seed in range(5):
        parts = community.louvain_communities(g, seed=seed)
        mods.append(community.modularity(g, parts))
    return {
        "mu": mu,
        "nodes": g.number_of_nodes(),
        "gaps": gaps(g),
        "planted": [planted[frozenset(g.nodes[v]["community"])] for v in range(g.number_of_nodes())],
        "louvain_modularity": max(mods),
    }


def gaps(g):
    out = []
    for u in range(g.number_of_nodes()):
        prev, row = u, []
        for v in sorted(w for w in g.neighbors(u) if w > u):
            row.append(v - prev)
            prev = v
        out.append(row)
    return out


def main():
    graphs = [lfr(mu) for mu in (0.1, 0.3)]
    with gzip.open(OUT, "wt") as f:
        json.dump({"graphs": graphs}, f, separators=(",", ":"))
    for g in graphs:
        print(f"mu {g['mu']}: {g['nodes']} nodes, {sum(map(len, g['gaps']))} edges, "
              f"{max(g['planted']) + 1} planted communities, Louvain modularity {g['louvain_modularity']:.4f}")


if __name__ == "__main__":
    main()
