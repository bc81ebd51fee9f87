"""glt's scatter / segment / spmm against PyG's scatter and torch_scatter.

Each case runs glt and its baselines in this process on the same input,
checks that they agree, then times forward and forward+backward and prints
``ratio = best baseline time / glt time`` (above 1: glt is faster).

    python benchmarks/bench_ops.py --size small      # E=1M,  N=100k, F=64
    python benchmarks/bench_ops.py --size large      # E=10M, N=1M,   F=64
"""
from __future__ import annotations

import argparse
import gc
import platform
import time
from typing import Callable, Optional

import torch
from torch_geometric.utils import scatter as pyg_scatter

import glt
from glt.ops import has_torch_scatter, scatter, segment, spmm
from glt.train.args import count

SIZES = {"small": (1_000_000, 100_000, 64), "large": (10_000_000, 1_000_000, 64)}


def timeit(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def fwd_bwd(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
            grad: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        leaf = x.detach().requires_grad_()
        op(leaf).backward(grad)
    return run


def first(out: object) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def case(name: str, x: torch.Tensor, glt_op: Callable, baselines: dict[str, Callable],
         out_rows: int, reps: int, backward: bool, nonempty: torch.Tensor) -> None:
    expected = first(glt_op(x))[nonempty]  # baselines differ on empty groups (0, nan, -inf)
    for base_name, base in baselines.items():
        got = first(base(x))[nonempty]
        if not torch.allclose(expected, got, atol=1e-4, rtol=1e-4):
            raise AssertionError(f"{name}: glt and {base_name} disagree")
    modes = [("fwd", lambda op: (lambda: op(x)))]
    if backward:
        grad = torch.randn(out_rows, x.size(1))
        modes.append(("fwd+bwd", lambda op: fwd_bwd(lambda t: first(op(t)), x, grad)))
    for mode, make in modes:
        t_glt = timeit(make(glt_op), reps)
        base_times = {b: timeit(make(op), reps) for b, op in baselines.items()}
        best = min(base_times, key=base_times.get)
        shown = "  ".join(f"{b} {t:.3f}s" for b, t in base_times.items())
        print(f"{name:<12} {mode:<8} glt {t_glt:.3f}s  {shown}  "
              f"ratio vs {best}: {base_times[best] / t_glt:.2f}x", flush=True)
        gc.collect()


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES) + ["both"], default="small")
    parser.add_argument("--reps", type=count, default=3)
    parser.add_argument("--no-backward", action="store_true")
    parser.add_argument("--reduce", nargs="+", default=["sum", "mean", "max"])
    args = parser.parse_args(argv)
    ts = None
    if has_torch_scatter():
        import torch_scatter as ts
    print(f"glt {glt.__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"torch_scatter {'yes' if ts else 'no'}  {platform.processor() or platform.machine()}")
    for size in (SIZES if args.size == "both" else [args.size]):
        num_edges, num_nodes, feat = SIZES[size]
        print(f"\n== {size}: E={num_edges:,} N={num_nodes:,} F={feat}")
        gen = torch.Generator().manual_seed(0)
        edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
        graph = glt.CSRGraph.from_edge_index(edge_index, num_nodes)
        row, col = graph.row(), graph.col
        graph.csc()  # the transpose is built once and cached, as in training
        src = torch.randn(num_edges, feat, generator=gen)
        x = torch.randn(num_nodes, feat, generator=gen)
        index = edge_index[1]
        has_in = torch.bincount(index, minlength=num_nodes) > 0
        has_out = graph.rowptr.diff() > 0
        for reduce in args.reduce:
            base = {"pyg": lambda s, r=reduce: pyg_scatter(s, index, 0, num_nodes, r)}
            if ts is not None:
                base["torch_scatter"] = lambda s, r=reduce: ts.scatter(s, index, 0, None,
                                                                      num_nodes, r)
            case(f"scatter-{reduce}", src, lambda s, r=reduce: scatter(s, index, num_nodes, r),
                 base, num_nodes, args.reps, not args.no_backward, has_in)

            base = {"pyg": lambda v, r=reduce: pyg_scatter(v.index_select(0, col), row, 0,
                                                          num_nodes, r)}
            if ts is not None:
                base["torch_scatter"] = lambda v, r=reduce: ts.segment_csr(
                    v.index_select(0, col), graph.rowptr, reduce=r)
            case(f"spmm-{reduce}", x, lambda v, r=reduce: spmm(graph, v, r), base, num_nodes,
                 args.reps, not args.no_backward, has_out)

            sorted_src = src.index_select(0, col)
            base = {"torch.segment_reduce": lambda s, r=reduce: torch.segment_reduce(
                s, r, offsets=graph.rowptr, axis=0, unsafe=True)}
            if ts is not None:
                base["torch_scatter"] = lambda s, r=reduce: ts.segment_csr(s, graph.rowptr,
                                                                           reduce=r)
            case(f"segment-{reduce}", sorted_src,
                 lambda s, r=reduce: segment(s, graph.rowptr, r), base, num_nodes, args.reps,
                 not args.no_backward, has_out)
            del sorted_src
            gc.collect()


if __name__ == "__main__":
    main()
