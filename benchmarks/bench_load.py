"""Benchmark :func:`spreadsim.graphs.load_edgelist` on a large integer edge list.

Generates a seeded random edge list (default 1M nodes, 10M edges, ~130 MB of text, with a
comment header) in a temporary directory, times ``load_edgelist`` (median of ``--repeat``
runs in this process, after one warm-up that also loads/compiles the numba parser), and
measures the peak RSS of a fresh subprocess that only imports spreadsim and loads the file.

Usage::

    python benchmarks/bench_load.py [--nodes 1000000] [--edges 10000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

_CHILD = """
import resource, sys, time
t0 = time.perf_counter()
from spreadsim.graphs import load_edgelist
t1 = time.perf_counter()
g = load_edgelist(sys.argv[1], directed={directed})
t2 = time.perf_counter()
print(g.n, g.num_arcs, t1 - t0, t2 - t1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_IMPORT_ONLY = """
import resource
import spreadsim.graphs
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_edgelist(path: str, nodes: int, edges: int, seed: int) -> None:
    """Write a random SNAP-style edge list (tab separated, with a comment header)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    chunk = 2_000_000
    opts = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    with open(path, "wb") as fh:
        fh.write(
            f"# random benchmark graph\n# Nodes: {nodes} Edges: {edges}\n"
            "# FromNodeId\tToNodeId\n".encode()
        )
        for start in range(0, edges, chunk):
            size = min(chunk, edges - start)
            uv = rng.integers(0, nodes, size=(size, 2), dtype=np.int64)
            table = pa.table({"u": uv[:, 0], "v": uv[:, 1]})
            pacsv.write_csv(table, fh, write_options=opts)


def main() -> None:
    """Run the benchmark and print a short report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--undirected", action="store_true")
    args = ap.parse_args()
    directed = not args.undirected

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "edges.txt")
        t0 = time.perf_counter()
        write_edgelist(path, args.nodes, args.edges, args.seed)
        size_mb = os.path.getsize(path) / 1e6
        print(
            f"wrote {args.edges:,} edges / {args.nodes:,} nodes: {size_mb:.0f} MB "
            f"in {time.perf_counter() - t0:.1f} s"
        )

        # measure the fresh subprocess first: a forked child inherits the parent's RSS in
        # ru_maxrss, so the parent must still be small here
        base = subprocess.run(
            [sys.executable, "-c", _IMPORT_ONLY], capture_output=True, text=True, check=True
        )
        child = subprocess.run(
            [sys.executable, "-c", _CHILD.format(directed=directed), path],
            capture_output=True,
            text=True,
            check=True,
        )
        n, arcs, t_import, t_load, rss_kb = child.stdout.split()
        print(
            f"fresh subprocess: import {float(t_import):.2f} s, load {float(t_load):.2f} s, "
            f"peak RSS {int(rss_kb) / 1024:.0f} MiB "
            f"(import alone: {int(base.stdout) / 1024:.0f} MiB)"
        )

        from spreadsim.graphs import load_edgelist

        g = load_edgelist(path, directed=directed)  # warm-up (numba cache / compile)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            g = load_edgelist(path, directed=directed)
            times.append(time.perf_counter() - t0)
        print(
            f"graph: n={g.n:,} arcs={g.num_arcs:,} self-loops dropped={g.dropped_self_loops} "
            f"duplicates dropped={g.dropped_duplicates}"
        )
        med = statistics.median(times)
        print(
            f"load_edgelist (in-process, {args.repeat} runs): "
            f"median {med:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s"
        )


if __name__ == "__main__":
    main()
