"""Dataset loading: glt's ``load_ogb`` against ogb's ``PygNodePropPredDataset``.

A seeded OGB-format release of ogbn-products' size (2,449,029 nodes,
30,929,570 raw edges stored once and given their inverses, 100 float features,
47 classes) is written once under ``--data-dir``; then each loader reads the
same folder, first from the raw files and again from its own processed cache.
Every load runs in a fresh subprocess that reports its wall time and its peak
resident memory above the memory right after imports, printed against the
bytes of the arrays the load returns.

    python benchmarks/bench_datasets.py               # full size
    python benchmarks/bench_datasets.py --scale 0.05  # a twentieth of it
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from typing import Optional

from _memory import status_mb
from _worker import worker_result

NUM_NODES, NUM_RAW_EDGES, NUM_FEATURES = 2_449_029, 30_929_570, 100


def worker(loader: str, root: str, touch: bool) -> dict:
    """One load in this process: ``{seconds, touch_seconds, peak_mb, arrays_mb}``."""
    import torch
    from ogb.nodeproppred import PygNodePropPredDataset
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    from glt.datasets import load_ogb
    torch.serialization.add_safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])
    import glt.datasets.ogb as glt_ogb
    checks = [0.0]
    check_arrays = glt_ogb.check_arrays

    def timed_check(arrays: dict) -> None:  # the invariants every cached load checks
        t = time.perf_counter()
        check_arrays(arrays)
        checks[0] += time.perf_counter() - t
    glt_ogb.check_arrays = timed_check
    base = status_mb("VmRSS")  # after imports: what the load itself adds
    t0 = time.perf_counter()
    if loader == "glt":
        data = load_ogb("ogbn-products", root, download=False)
        arrays = [data.graph.rowptr, data.graph.col, data.x, data.y, data.train_mask,
                  data.val_mask, data.test_mask]
    else:
        dataset = PygNodePropPredDataset("ogbn-products", root)
        data = dataset[0]
        split = dataset.get_idx_split()
        arrays = [data.edge_index, data.x, data.y, *split.values()]
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    if touch:  # read every byte, as training eventually does
        for a in arrays:
            a.reshape(-1)[:: max(1, 4096 // a.element_size())].sum()
    return {"seconds": seconds, "touch_seconds": time.perf_counter() - t0,
            "check_seconds": checks[0],
            "peak_mb": status_mb("VmHWM") - base,
            "arrays_mb": sum(a.numel() * a.element_size() for a in arrays) / 2**20}


def run_worker(loader: str, root: str, touch: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", loader, "--root", root]
    if touch:
        cmd.append("--touch")
    return worker_result(cmd, f"{loader} load")


def ensure_release(root: str, scale: float) -> str:
    from glt.datasets.testing import write_ogb
    path = os.path.join(root, "ogbn_products")
    if not os.path.exists(os.path.join(path, "RELEASE_v1.txt")):
        t0 = time.perf_counter()
        write_ogb(root, "ogbn-products", num_nodes=int(NUM_NODES * scale),
                  num_edges=int(NUM_RAW_EDGES * scale), num_features=NUM_FEATURES, seed=0)
        print(f"wrote the OGB-format release in {time.perf_counter() - t0:.0f}s")
    return path


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--data-dir", default="/tmp/glt-bench-datasets")
    parser.add_argument("--worker", choices=["glt", "ogb"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--touch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.root, args.touch)))
        return
    from glt.train.args import check_folder, check_parsed, rate
    check_parsed(parser, args, {"scale": rate, "data_dir": check_folder})
    root = os.path.join(args.data_dir, f"scale{args.scale:g}")
    path = ensure_release(root, args.scale)
    for cache in ("glt_processed", "processed"):
        shutil.rmtree(os.path.join(path, cache), ignore_errors=True)
    os.makedirs(os.path.join(path, "processed"))
    print(f"python {platform.python_version()}  {platform.processor() or platform.machine()}"
          f"  scale {args.scale:g}: {int(NUM_NODES * args.scale):,} nodes, "
          f"{2 * int(NUM_RAW_EDGES * args.scale):,} edges")
    rows = {}
    for loader in ("glt", "ogb"):
        rows[f"{loader} first load (raw files)"] = run_worker(loader, root, touch=False)
        rows[f"{loader} cached load"] = run_worker(loader, root, touch=False)
        rows[f"{loader} cached load + read all"] = run_worker(loader, root, touch=True)
    print(f"\n{'':34} {'seconds':>9} {'of which checks':>16} {'peak MB':>9} {'arrays MB':>10} "
          f"{'peak/arrays':>12}")
    for name, r in rows.items():
        seconds = r["seconds"] + r["touch_seconds"]
        print(f"{name:34} {seconds:9.2f} {r['check_seconds']:16.2f} {r['peak_mb']:9.0f} "
              f"{r['arrays_mb']:10.0f} {r['peak_mb'] / r['arrays_mb']:12.2f}")
    for what in ("cached load", "cached load + read all"):
        ours, theirs = rows[f"glt {what}"], rows[f"ogb {what}"]
        ratio = ((theirs["seconds"] + theirs["touch_seconds"])
                 / (ours["seconds"] + ours["touch_seconds"]))
        print(f"{what}: glt is {ratio:.1f}x faster than ogb's processed-file load")


if __name__ == "__main__":
    main()
