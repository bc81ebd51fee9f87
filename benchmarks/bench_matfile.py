"""MAT-file reading: glt's checked reader (``glt.datasets._matfile.read_mat``)
against ``scipy.io.loadmat`` on the same file.

A seeded file in the layout of LINKX's ``snap_patents.mat`` (``edge_index [2, E]``
int64, a sparse float64 ``node_feat [N, 269]``, ``num_nodes``, ``years [1, N]``)
is written at ``--scale`` of snap-patents' size (2,923,922 nodes, 13,975,788
edges; features at ``--density``), uncompressed and compressed; each reader
loads each file ``--repeats`` times in turn, and the loads must be equal.

    python benchmarks/bench_matfile.py --scale 0.1
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Optional

import numpy as np
import scipy.io
import scipy.sparse as sp

from glt.datasets._matfile import read_mat
from glt.train.args import count, rate

NUM_NODES, NUM_EDGES, NUM_FEATURES = 2_923_922, 13_975_788, 269


def write(path: str, scale: float, density: float, compressed: bool) -> list[str]:
    """Write the file (once) and return its variable names."""
    n, e = max(2, int(NUM_NODES * scale)), max(1, int(NUM_EDGES * scale))
    rng = np.random.default_rng(0)
    values = {"edge_index": rng.integers(0, n, (2, e)),
              "node_feat": sp.random(n, NUM_FEATURES, density=density, format="csc",
                                     random_state=0),
              "num_nodes": np.array([[n]]), "years": rng.integers(1963, 2000, (1, n))}
    if not os.path.exists(path):
        scipy.io.savemat(path, values, do_compression=compressed)
    return list(values)


def same(a: dict, b: dict, names: list[str]) -> bool:
    return all(((a[k] != b[k]).nnz == 0 and a[k].shape == b[k].shape) if sp.issparse(a[k])
               else (a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])) for k in names)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=rate, default=0.1)
    parser.add_argument("--density", type=rate, default=0.05)
    parser.add_argument("--repeats", type=count, default=3)
    parser.add_argument("--data-dir", default="/tmp/glt-bench-matfile")
    args = parser.parse_args(argv)
    os.makedirs(args.data_dir, exist_ok=True)
    for compressed in (False, True):
        path = os.path.join(args.data_dir, f"snap_patents_{args.scale}_{args.density}_"
                            f"{'z' if compressed else 'raw'}.mat")
        names = write(path, args.scale, args.density, compressed)
        times: dict[str, list[float]] = {"glt": [], "scipy": []}
        for _ in range(args.repeats):
            t = time.perf_counter()
            ours = read_mat(path, names)
            times["glt"].append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs = scipy.io.loadmat(path)
            times["scipy"].append(time.perf_counter() - t)
            if not same(ours, theirs, names):
                raise SystemExit(f"{path}: glt and scipy read different values")
        glt_s, scipy_s = (float(np.median(times[k])) for k in ("glt", "scipy"))
        print(f"{'compressed' if compressed else 'uncompressed'} "
              f"{os.path.getsize(path) / 1e6:.0f} MB: glt {glt_s:.3f} s, scipy {scipy_s:.3f} s "
              f"(median of {args.repeats}), scipy / glt {scipy_s / glt_s:.2f}x, equal loads")


if __name__ == "__main__":
    main()
