#!/usr/bin/python3
"""Reference layouts for models/network.Layout, computed with networkx's spring_layout.

Writes models/network/testdata/golden_layout.json: for graphs networkx ships (Zachary's karate
club, Les Miserables, the Florentine families), the nodes renamed 0..n-1 in insertion order,
the edges, starting positions drawn from a fixed seed, and spring_layout's positions from them
(Fruchterman-Reingold, 50 iterations, edges unweighted, no early stop, scale 1). The Go test
starts Layout from the same positions and requires the same picture.

Run from anywhere: /usr/bin/python3 scripts/golden/network_layout.py
"""
import json
import os

import numpy as np
import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "models", "network", "testdata", "golden_layout.json")


def main():
    graphs = {
        "karate": nx.karate_club_graph(),
        "les_miserables": nx.les_miserables_graph(),
        "florentine_families": nx.florentine_families_graph(),
    }
    rng = np.random.default_rng(20261205)
    out = {"networkx": nx.__version__, "graphs": {}}
    for name, g in graphs.items():
        g = nx.convert_node_labels_to_integers(g)
        start = rng.random((g.number_of_nodes(), 2))
        pos = nx.spring_layout(g, pos={v: start[v] for v in g}, iterations=50, threshold=0, weight=None, scale=1)
        out["graphs"][name] = {
            "nodes": g.number_of_nodes(),
            "edges": [[u, v] for u, v in g.edges()],
            "start": start.tolist(),
            "layout": [list(pos[v]) for v in range(g.number_of_nodes())],
        }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
