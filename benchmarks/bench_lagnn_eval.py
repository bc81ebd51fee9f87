"""LA-SAGE whole-graph evaluation on an ogbn-products-sized graph: glt against
PyG's ``SAGEConv`` with the same weights and the same generated inputs.

The LA-GNN ogbn-products preset scores validation and test nodes with every
neighbour (``evaluate="full"``): one pass of the 3-layer GraphSAGE (hidden 256)
over the mean of the features and one generated set, the generated set decoded
for all nodes by the OGB generator. Input: the seeded power-law graph of
``bench_sampler.py`` (2,449,029 nodes, 61,859,140 edges at scale 1), 100 random
features, 47 classes. Cases, each in a fresh subprocess, timed under
``torch.no_grad`` after one warm-up pass:

- ``glt``: :func:`glt.train.lagnn.la_full_predict` on glt's LA-SAGE (CSR SpMM;
  the output layer projects 256 -> 47 before aggregating).
- ``pyg-csr``: the same generation, then PyG ``SAGEConv`` layers fed the
  transposed adjacency as a ``torch.sparse_csr`` tensor (PyG's sparse path).
- ``pyg``: the same with ``edge_index`` (PyG's gather-scatter path; its
  ``[E, 256]`` messages need about 63 GB at scale 1, so run it at a smaller scale).

Peak MB = the peak resident memory (VmHWM, restarted after the setup) above the
memory after building the graph, features, models and the adjacency format.
The logits of every case are checked against glt's.

    python benchmarks/bench_lagnn_eval.py --scale 0.1
    python benchmarks/bench_lagnn_eval.py --cases glt pyg-csr   # scale 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import types
from typing import Any, Optional

from _memory import reset_peak, status_mb

CASES = ("glt", "pyg-csr", "pyg")


def worker(case: str, scale: float, reps: int) -> dict[str, Any]:
    import torch

    from bench_sampler import NUM_EDGES, NUM_NODES, power_law_graph
    from glt.memory import keep_freed_memory
    from glt.models.lagnn import CVAE, la_backbone
    from glt.train.lagnn import batch_augmentation, la_full_predict

    keep_freed_memory()  # as the training scripts
    n, e = int(NUM_NODES * scale), int(NUM_EDGES * scale)
    graph = power_law_graph(n, e)
    torch.manual_seed(0)
    x = torch.randn(n, 100)
    cvae = CVAE(100, variant="ogb")
    cvae.set_generation_statistics(x)
    model = la_backbone("sage", 100, 256, 47, num_inputs=2, num_layers=3,
                        input_dropout=False, combine="mean").eval()
    draw = batch_augmentation(cvae, x, x, 2, lambda h: h)
    data = types.SimpleNamespace(num_nodes=n, graph=graph, y=torch.empty(n, dtype=torch.long))
    if case == "glt":
        graph.transpose()  # glt's adj_t, cached on the graph (built in setup, as PyG's)
        predict = la_full_predict(draw)

        def run() -> torch.Tensor:
            return predict(model, data)
    else:
        from bench_node import pyg_twin
        twin = pyg_twin(model.backbone).eval()  # PyG's SAGEConv layers, glt's weights
        if case == "pyg-csr":
            t = graph.transpose()  # rows = targets, as PyG's adj_t
            adj = torch.sparse_csr_tensor(t.rowptr, t.col, torch.ones(t.num_edges), (n, n))
        else:
            adj = graph.edge_index().long()

        def run() -> torch.Tensor:
            return twin(torch.stack(draw(torch.arange(n))).mean(0), adj)
    reset_peak()
    base = status_mb("VmRSS")
    times = []
    with torch.no_grad():
        for _ in range(reps + 1):  # the first pass warms up
            torch.manual_seed(1)  # the same generated set in every case
            t0 = time.perf_counter()
            logits = run()
            times.append(time.perf_counter() - t0)
    return {"nodes": n, "edges": graph.num_edges, "seconds": min(times[1:]),
            "peak_mb": status_mb("VmHWM") - base,
            "checksum": logits.double().abs().sum().item(),
            "head": logits[:4].flatten().tolist()}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=2, help="timed passes (best kept)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.scale, args.reps)))
        return
    from glt.train.args import check_parsed, count, rate
    check_parsed(parser, args, {"scale": rate, "reps": count})
    import torch
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"{platform.processor() or platform.machine()}  scale {args.scale}", flush=True)
    results = {}
    for case in args.cases:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", case, "--scale",
               str(args.scale), "--reps", str(args.reps)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"  {case:8} failed (exit {done.returncode}): "
                  f"{done.stderr.strip().splitlines()[-1:] or 'killed'}", flush=True)
            continue
        results[case] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[case]
        print(f"  {case:8} {r['seconds']:.2f} s  peak {r['peak_mb']:.0f} MB  "
              f"({r['nodes']:,} nodes, {r['edges']:,} edges)", flush=True)
    ours = results.get("glt")
    if ours is None:
        return
    head = torch.tensor(ours["head"])
    for case, r in results.items():
        if case == "glt":
            continue
        same = (torch.allclose(torch.tensor(r["head"]), head, rtol=1e-4, atol=1e-4)
                and abs(r["checksum"] - ours["checksum"]) <= 1e-4 * ours["checksum"])
        print(f"glt vs {case}: {r['seconds'] / ours['seconds']:.2f}x time, "
              f"{r['peak_mb'] / ours['peak_mb']:.2f}x peak memory; logits equal: {same}")


if __name__ == "__main__":
    main()
