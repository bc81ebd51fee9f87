"""LargeGT cost beside GraphSAGE mini-batch training, on the seeded
ogbn-products-sized graph of ``bench_sampler.py`` (100 random features, 47 classes).

Cases, each in a fresh subprocess that keeps freed memory for reuse as the
training script does (peak memory = VmHWM above the memory after building the
graph):

- ``prep``: LargeGT's token preparation: ``[X, ÂX, Â²X]`` through glt's SpMM,
  then K=100 tokens for every node with the TokenSampler.
- ``stream``: the same hop features computed block by block into a
  memory-mapped cache in a temporary folder (the ogbn-papers100M path; peak
  memory then excludes the ``[N, 3, F]`` result).
- ``largegt``: training steps of the ogbn-products preset (hidden 256, global
  dim 64, 4096 codes, 2 heads, K=100, batch 1024), tokens sampled per batch;
  ``--chunk-mb`` sets the local module's chunks (``LargeGT(chunk_bytes=...)``,
  64 MiB by default; 0 runs the whole batch at once).
- ``largegt-nq``: the same with ``node_queries=True`` (only the node's own three
  tokens query the attention: ``3 x 300`` scores per node instead of ``300 x 300``).
- ``largegt-eval``: inference of the same model (evaluation mode, no gradients)
  on batches of 1024 nodes.
- ``sage``: training steps of a 3-layer GraphSAGE (hidden 256) on glt's
  NeighborLoader batches of 1024 seeds with fanouts [15, 10, 5].

Prints nodes per second of training for each and the ratios to GraphSAGE.

    python benchmarks/bench_largegt.py --scale 0.1 --batches 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any, Optional

from _memory import status_mb
from _worker import worker_result

CASES = ("prep", "stream", "largegt", "largegt-nq", "largegt-eval", "sage")


def worker(case: str, scale: float, batches: int, device: str,
           chunk_bytes: Optional[int]) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from bench_sampler import NUM_EDGES, NUM_NODES, power_law_graph
    from glt.memory import keep_freed_memory
    from glt.models import GraphSAGE
    from glt.models.largegt import LargeGT, TokenInputs
    from glt.propagate import cached_hop_features, hop_features
    from glt.samplers import NeighborLoader, TokenSampler

    keep_freed_memory()  # as scripts/train_largegt.py
    n, e = int(NUM_NODES * scale), int(NUM_EDGES * scale)
    graph = power_law_graph(n, e)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 100, generator=gen)
    y = torch.randint(0, 47, (n,), generator=gen)
    seeds = torch.randperm(n, generator=gen)[:1024 * (batches + 1)]
    base = status_mb("VmRSS")

    def clock() -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()
    out: dict[str, Any] = {"nodes": n, "edges": graph.num_edges}
    if case == "prep":
        t0 = clock()
        hop_features(graph.to(device), x.to(device))
        out["hop_seconds"] = clock() - t0
        out["hop_peak_mb"] = status_mb("VmHWM") - base
        t0 = time.perf_counter()
        TokenSampler(graph, 100).sample(seed=0)
        out["token_seconds"] = time.perf_counter() - t0
    elif case == "stream":
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cached_hop_features(graph, x, os.path.join(tmp, "hops"))
            out["hop_seconds"] = time.perf_counter() - t0
    else:
        if case.startswith("largegt"):
            inputs = TokenInputs(graph.to(device), x.to(device), 100)
            model = LargeGT(100, 256, 47, heads=2, global_dim=64, num_codes=4096,
                            node_queries=case == "largegt-nq",
                            chunk_bytes=chunk_bytes).to(device).train(case != "largegt-eval")

            def batch_loss(chunk: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(model(*inputs(chunk, seed=0)), y[chunk].to(device))
            chunks = list(seeds.split(1024))
        else:
            model = GraphSAGE(100, 256, 47, num_layers=3).to(device)
            loader = NeighborLoader(graph, [15, 10, 5], input_nodes=seeds, batch_size=1024,
                                    x=x, y=y, seed=0, prefetch=0)
            chunks = list(loader)

            def batch_loss(batch) -> torch.Tensor:
                logits = model(batch.x.to(device), batch.graph.to(device))[:batch.batch_size]
                return F.cross_entropy(logits, batch.y.to(device))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for chunk in chunks:  # the first step warms up
            t0 = clock()
            if case == "largegt-eval":
                with torch.no_grad():
                    model(*inputs(chunk, seed=0))
            else:
                opt.zero_grad()
                batch_loss(chunk).backward()
                opt.step()
            times.append(clock() - t0)
        out["seconds_per_batch"] = sum(times[1:]) / (len(times) - 1)
        out["nodes_per_second"] = 1024 / out["seconds_per_batch"]
    out["peak_mb"] = status_mb("VmHWM") - base
    return out


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batches", type=int, default=3, help="timed training batches")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk-mb", type=float, default=64,
                        help="LargeGT's chunk_bytes in MiB (0: the whole batch at once)")
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        chunk = int(args.chunk_mb * 2 ** 20) or None
        print(json.dumps(worker(args.worker, args.scale, args.batches, args.device, chunk)))
        return
    from glt.train.args import check_device, check_parsed, count, non_negative, rate
    check_parsed(parser, args, {"scale": rate, "batches": count, "chunk_mb": non_negative,
                                "device": check_device})
    import torch
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"{platform.processor() or platform.machine()}  device {args.device}  "
          f"scale {args.scale}  LargeGT chunks {args.chunk_mb:g} MiB")
    results = {}
    for case in CASES:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", case, "--scale",
               str(args.scale), "--batches", str(args.batches), "--device", args.device,
               "--chunk-mb", str(args.chunk_mb)]
        results[case] = worker_result(cmd, case)
        print(f"  {case:8} {json.dumps(results[case])}", flush=True)
    p, st = results["prep"], results["stream"]
    lg, nq, sage = results["largegt"], results["largegt-nq"], results["sage"]
    print(f"\ntoken preparation: hop features {p['hop_seconds']:.1f}s + K=100 tokens for "
          f"{p['nodes']:,} nodes {p['token_seconds']:.1f}s, peak {p['peak_mb']:.0f} MB")
    print(f"hop features streamed to a memory-mapped cache: {st['hop_seconds']:.1f}s, peak "
          f"{st['peak_mb']:.0f} MB (in memory: {p['hop_seconds']:.1f}s, peak "
          f"{p['hop_peak_mb']:.0f} MB)")
    print(f"training: LargeGT {lg['nodes_per_second']:.0f} nodes/s, GraphSAGE [15,10,5] "
          f"{sage['nodes_per_second']:.0f} nodes/s -> LargeGT / GraphSAGE "
          f"{lg['nodes_per_second'] / sage['nodes_per_second']:.2f}x; peak "
          f"{lg['peak_mb']:.0f} MB vs {sage['peak_mb']:.0f} MB")
    ev = results["largegt-eval"]
    print(f"LargeGT inference {ev['nodes_per_second']:.0f} nodes/s, peak {ev['peak_mb']:.0f} MB")
    print(f"LargeGT with node-only queries {nq['nodes_per_second']:.0f} nodes/s -> "
          f"{nq['nodes_per_second'] / sage['nodes_per_second']:.2f}x GraphSAGE, "
          f"{nq['nodes_per_second'] / lg['nodes_per_second']:.1f}x full attention; peak "
          f"{nq['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
