"""Neighbour-sampling throughput: glt against every sampler importable here.

A seeded power-law graph of ogbn-products' size (2,449,029 nodes,
61,859,140 directed edges, both directions of each pair) is sampled with
fanouts [15, 10, 5] in batches of 1024 seeds, relabelling included. Prints
sampled edges per second at each thread count and the ratio glt / peer; then
times LargeGT's token sampler (K=100) over all nodes.

    python benchmarks/bench_sampler.py               # full size
    python benchmarks/bench_sampler.py --scale 0.1   # a tenth of the nodes and edges
    python benchmarks/bench_sampler.py --device cuda # adds glt's torch path on the GPU
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import types
from typing import Callable, Optional

import numba
import torch

import glt
from glt.samplers import NeighborSampler, TokenSampler
from glt.train.args import check_device, check_parsed, count, fanout, non_negative_int, rate

NUM_NODES, NUM_EDGES = 2_449_029, 61_859_140


def power_law_graph(num_nodes: int, num_edges: int, alpha: float = 0.8,
                    seed: int = 0) -> glt.CSRGraph:
    """Chung-Lu style graph: endpoints drawn with weight ``(rank + 1) ** -alpha``
    (node ids shuffled), each pair stored in both directions."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.arange(1, num_nodes + 1, dtype=torch.float64).pow(-alpha)
    cdf = weight.cumsum(0)
    cdf /= cdf[-1].clone()
    relabel = torch.randperm(num_nodes, generator=gen)
    pairs = num_edges // 2

    def endpoints() -> torch.Tensor:
        u = torch.rand(pairs, generator=gen, dtype=torch.float64)
        return relabel[torch.searchsorted(cdf, u).clamp(max=num_nodes - 1)]

    a, b = endpoints(), endpoints()
    edge_index = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
    del a, b
    return glt.CSRGraph.from_edge_index(edge_index, num_nodes)


def throughput(sample: Callable[[torch.Tensor], int], batches: list[torch.Tensor]) -> float:
    """Sampled edges per second over ``batches`` (after one warm-up batch)."""
    sample(batches[0])
    edges, t0 = 0, time.perf_counter()
    for seeds in batches[1:]:
        edges += sample(seeds)
    return edges / (time.perf_counter() - t0)


def dgl_sampler(graph: glt.CSRGraph, fanouts: list[int]) -> Optional[Callable]:
    """DGL's ``NeighborSampler.sample_blocks`` on the same graph, or None when DGL won't import."""
    try:  # DGL's graphbolt loader needs torchdata's datapipes (gone since torchdata 0.10)
        import torchdata.datapipes  # noqa: F401
    except ImportError:  # graphbolt is not used here: let DGL import without it
        sys.modules.setdefault("dgl.graphbolt", types.ModuleType("dgl.graphbolt"))
    try:
        import dgl
    except Exception as err:  # DGL wheels often fail to import beside a newer torch
        print(f"DGL: not importable here ({type(err).__name__}: {str(err)[:120]})")
        return None
    src, dst = graph.edge_index()
    g = dgl.graph((src, dst), num_nodes=graph.num_nodes)
    g.create_formats_()
    sampler = dgl.dataloading.NeighborSampler(list(reversed(fanouts)))

    def run(seeds: torch.Tensor) -> int:
        _, _, blocks = sampler.sample_blocks(g, seeds)
        return sum(b.num_edges() for b in blocks)
    return run


def pyg_sampler(graph: glt.CSRGraph, fanouts: list[int]) -> Optional[Callable]:
    """PyG's ``NeighborSampler`` (needs pyg-lib or torch-sparse), or None."""
    import torch_geometric.typing as pyg_typing
    if not (pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE):
        print("PyG NeighborLoader: needs pyg-lib or torch-sparse, neither is installed here")
        return None
    from torch_geometric.sampler import NeighborSampler as PyGSampler, NodeSamplerInput
    sampler = PyGSampler(graph.to_pyg(), fanouts)

    def run(seeds: torch.Tensor) -> int:
        out = sampler.sample_from_nodes(NodeSamplerInput(None, seeds))
        return out.row.numel()
    return run


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=rate, default=1.0)
    parser.add_argument("--batches", type=count, default=40)
    parser.add_argument("--batch-size", type=count, default=1024)
    parser.add_argument("--fanouts", type=fanout, nargs="+", default=[15, 10, 5])
    parser.add_argument("--tokens", type=non_negative_int, default=100,
                        help="K for the token sampler (0: skip)")
    parser.add_argument("--device", default="cpu", help="also time glt's torch path on this "
                        "device (e.g. cuda)")
    args = parser.parse_args(argv)
    check_parsed(parser, args, {"device": check_device})
    n, e = int(NUM_NODES * args.scale), int(NUM_EDGES * args.scale)
    print(f"glt {glt.__version__}  torch {torch.__version__}  "
          f"cores {numba.config.NUMBA_NUM_THREADS}  {platform.processor() or platform.machine()}")
    t0 = time.perf_counter()
    graph = power_law_graph(n, e)
    print(f"graph: {n:,} nodes, {graph.num_edges:,} edges, max in-degree "
          f"{int(graph.in_degree().max()):,}  (built in {time.perf_counter() - t0:.1f}s)")
    gen = torch.Generator().manual_seed(1)
    order = torch.randperm(n, generator=gen)
    batches = list(order[:args.batch_size * (args.batches + 1)].split(args.batch_size))

    glt_numba = NeighborSampler(graph, args.fanouts, engine="numba")
    glt_torch = NeighborSampler(graph, args.fanouts, engine="torch")
    peers = {"glt torch path": lambda s: glt_torch.sample(s, seed=0).edge_id.numel()}
    if args.device != "cpu":
        on_device = NeighborSampler(graph.to(args.device), args.fanouts, engine="torch")

        def device_run(seeds: torch.Tensor) -> int:
            count = on_device.sample(seeds.to(args.device), seed=0).edge_id.numel()
            torch.cuda.synchronize()
            return count
        peers[f"glt torch {args.device}"] = device_run
    for name, make in (("DGL sample_blocks", dgl_sampler), ("PyG NeighborSampler", pyg_sampler)):
        run = make(graph, args.fanouts)
        if run is not None:
            peers[name] = run
    max_threads = numba.config.NUMBA_NUM_THREADS
    for threads in sorted({1, max_threads}):
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        ours = throughput(lambda s: glt_numba.sample(s, seed=0).edge_id.numel(), batches)
        print(f"\nthreads={threads}  fanouts={args.fanouts}  batch={args.batch_size}")
        print(f"  glt numba              {ours / 1e6:7.2f} M edges/s")
        for name, run in peers.items():
            theirs = throughput(run, batches)
            print(f"  {name:<22} {theirs / 1e6:7.2f} M edges/s   glt / {name}: "
                  f"{ours / theirs:.2f}x", flush=True)
    if args.tokens:
        numba.set_num_threads(max_threads)
        sampler = TokenSampler(graph, args.tokens)
        sampler.sample(torch.arange(1000), seed=0)  # compile
        t0 = time.perf_counter()
        tokens = sampler.sample(seed=0)
        print(f"\nTokenSampler K={args.tokens}: {tokens.size(0):,} nodes in "
              f"{time.perf_counter() - t0:.1f}s at {max_threads} threads")


if __name__ == "__main__":
    main()
