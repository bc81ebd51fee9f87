"""One prepared device check: every GPU path of glt verified against CPU (or PyG
on the same device) and timed, in one process, printing one table and writing
one JSON.

Correctness (device against CPU, values and gradients): every op and reduce,
GCN / SAGE / GAT against PyG's layers, the torch sampler engine's properties,
LightGCN / UltraGCN losses, the LA-GNN generator, LargeGT under bfloat16
autocast, a checkpoint written on the device and resumed on CPU, one
data-parallel step (NCCL on CUDA, gloo on CPU). Speed: spmm and scatter (sum,
max) against PyG's scatter, k-hop sampling, a gowalla-sized LightGCN epoch
against PyG's ``LightGCN`` and an UltraGCN epoch (both timed over a few batches
and extrapolated), a LargeGT training step.

    python benchmarks/gpu_check.py --out results/gpu_check.json     # on a GPU machine
    python benchmarks/gpu_check.py --smoke                           # toy sizes on CPU
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

import glt
import glt.layers
import glt.ops
from glt.graph import CSRGraph


@dataclass
class Size:
    """Problem sizes of one mode."""

    nodes: int
    edges: int
    features: int
    users: int
    items: int
    interactions: int
    batches: int  # timed batches of an epoch (extrapolated to the whole epoch)


SMOKE = Size(nodes=300, edges=3_000, features=16, users=200, items=300, interactions=3_000,
             batches=2)
FULL = Size(nodes=1_000_000, edges=10_000_000, features=64, users=29_858, items=40_981,
            interactions=810_128, batches=20)
CHECKS: list[tuple[str, Callable[..., str]]] = []
SPEEDS: list[tuple[str, Callable[..., dict[str, Any]]]] = []


def check(name: str) -> Callable:
    def register(fn: Callable[..., str]) -> Callable[..., str]:
        CHECKS.append((name, fn))
        return fn
    return register


def speed(name: str) -> Callable:
    def register(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        SPEEDS.append((name, fn))
        return fn
    return register


def close(a: torch.Tensor, b: torch.Tensor, what: str, tol: float = 1e-4) -> float:
    """Max abs difference of ``a`` (any device) and ``b``; raises when over ``tol``
    (relative to the magnitude of ``b``)."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    if a.shape != b.shape or diff > tol * scale:
        raise AssertionError(f"{what}: shapes {tuple(a.shape)} / {tuple(b.shape)}, max diff "
                             f"{diff:.3g}")
    return diff


def random_graph(n: int, e: int, device: str, seed: int = 0) -> CSRGraph:
    g = torch.Generator().manual_seed(seed)
    return CSRGraph.from_edge_index(torch.randint(0, n, (2, e), generator=g), n).to(device)


def on_both(fn: Callable[[str], tuple[torch.Tensor, list[torch.Tensor]]], device: str,
            what: str, tol: float = 1e-4) -> float:
    """``fn(dev) -> (output, gradients)`` on the device and on CPU, compared."""
    out, grads = fn(device)
    ref, ref_grads = fn("cpu")
    worst = close(out, ref, what, tol)
    for i, (a, b) in enumerate(zip(grads, ref_grads)):
        worst = max(worst, close(a, b, f"{what} gradient {i}", tol))
    return worst


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str, reps: int = 3) -> float:
    """Median seconds of ``reps`` calls after one warm-up."""
    fn()
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


# ------------------------------------------------------------------ correctness
@check("ops: scatter / segment / spmm, every reduce, values and gradients")
def check_ops(device: str, size: Size) -> str:
    worst = 0.0
    for reduce in ("sum", "mean", "max", "min"):
        def run(dev: str, reduce: str = reduce) -> tuple[torch.Tensor, list[torch.Tensor]]:
            torch.manual_seed(1)
            graph = random_graph(size.nodes // 3, size.edges // 3, dev)
            x = torch.randn(graph.num_nodes, 8, device=dev, requires_grad=True)
            msg = torch.randn(graph.num_edges, 8, device=dev, requires_grad=True)
            out = torch.cat([glt.spmm(graph, x, reduce),
                             glt.scatter(msg, graph.col, graph.num_nodes, reduce),
                             glt.segment(msg, graph.rowptr, reduce)])
            out.pow(2).sum().backward()
            return out, [x.grad, msg.grad]
        worst = max(worst, on_both(run, device, f"ops {reduce}"))
    return f"max diff {worst:.2g}"


@check("ops: segment / scatter softmax, linear, pair_product")
def check_softmax_linear(device: str, size: Size) -> str:
    def run(dev: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(2)
        graph = random_graph(size.nodes // 3, size.edges // 3, dev)
        src = torch.randn(graph.num_edges, 4, device=dev, requires_grad=True)
        w = torch.randn(6, 4, device=dev, requires_grad=True)
        h = torch.randn(graph.num_nodes, 4, device=dev, requires_grad=True)
        pairs = torch.randint(0, graph.num_nodes, (50, 2), device=dev)
        out = torch.cat([glt.ops.segment_softmax(src, graph.rowptr),
                         glt.ops.scatter_softmax(src, graph.col, graph.num_nodes),
                         glt.ops.linear(src, w)[:, :4], glt.ops.pair_product(h, pairs)])
        out.pow(2).sum().backward()
        return out, [src.grad, w.grad, h.grad]
    return f"max diff {on_both(run, device, 'softmax / linear / pair'):.2g}"


@check("ops: dropout keeps 1 - p of the entries, scaled by 1 / (1 - p)")
def check_dropout(device: str, size: Size) -> str:
    x = torch.ones(size.edges, 8, device=device)
    out = glt.ops.dropout(x, 0.3, True)
    kept = float((out != 0).float().mean())
    if abs(kept - 0.7) > 0.02 or not torch.allclose(out[out != 0], torch.tensor(1 / 0.7,
                                                                                device=device)):
        raise AssertionError(f"kept {kept:.3f} of the entries")
    return f"kept {kept:.3f}"


@check("layers: GCNConv / SAGEConv / GATConv against PyG on the device")
def check_layers(device: str, size: Size) -> str:
    import torch_geometric.nn as pyg
    torch.manual_seed(3)
    graph = random_graph(size.nodes // 3, size.edges // 3, device)
    edge_index = graph.edge_index()
    x = torch.randn(graph.num_nodes, 12, device=device)
    worst = 0.0
    pairs = [(glt.layers.GCNConv(12, 8), pyg.GCNConv(12, 8)),
             (glt.layers.SAGEConv(12, 8), pyg.SAGEConv(12, 8)),
             (glt.layers.GATConv(12, 8, heads=2), pyg.GATConv(12, 8, heads=2))]
    for ours, theirs in pairs:
        ours, theirs = ours.to(device).eval(), theirs.to(device).eval()
        state = ours.state_dict()
        if isinstance(theirs, pyg.GCNConv):
            state = {"lin.weight": state["lin.weight"], "bias": state["bias"]}
        theirs.load_state_dict(state, strict=False)
        worst = max(worst, close(ours(x, graph), theirs(x, edge_index),
                                 type(ours).__name__, 1e-4))
    return f"max diff {worst:.2g}"


@check("samplers: torch engine draws existing edges, within fanouts, no duplicates, "
       "repeatably")
def check_sampler(device: str, size: Size) -> str:
    from glt.samplers import NeighborSampler
    graph = random_graph(size.nodes, size.edges, device)
    sampler = NeighborSampler(graph, [5, 3], engine="torch")
    seeds = torch.arange(min(64, graph.num_nodes), device=device)
    a, b = sampler.sample(seeds, seed=7), sampler.sample(seeds, seed=7)
    if not (torch.equal(a.node, b.node) and torch.equal(a.edge_index, b.edge_index)):
        raise AssertionError("the same seed gave another sample")
    src, dst = a.node[a.edge_index[0]].cpu(), a.node[a.edge_index[1]].cpu()
    keys = set((graph.row().cpu() * graph.num_nodes + graph.col.cpu()).tolist())
    drawn = (src * graph.num_nodes + dst).tolist()
    if any(k not in keys for k in drawn):
        raise AssertionError("a sampled edge is not in the graph")
    if len(set(zip(a.edge_id.tolist()))) != a.edge_id.numel():
        raise AssertionError("an edge was drawn twice")
    per_target = torch.bincount(a.hop_edge_index(0)[1].cpu(), minlength=a.num_nodes)
    if int(per_target.max()) > 5:
        raise AssertionError(f"{int(per_target.max())} neighbours drawn for fanout 5")
    return f"{a.edge_index.size(1)} edges from {seeds.numel()} seeds"


def _rec_data(size: Size, device: str) -> Any:
    from glt.datasets.rec import RecDataset
    g = torch.Generator().manual_seed(4)
    users = torch.randint(0, size.users, (size.interactions,), generator=g)
    items = torch.randint(0, size.items, (size.interactions,), generator=g)
    key = torch.unique(users * size.items + items)
    train = CSRGraph.from_edge_index(torch.stack([key // size.items, key % size.items]),
                                     size.users, num_cols=size.items)
    return RecDataset("synthetic", size.users, size.items, train, train)


@check("models: LightGCN and UltraGCN losses and gradients against CPU")
def check_rec_models(device: str, size: Size) -> str:
    from glt.models import LightGCN, UltraGCN
    data = _rec_data(size, "cpu")
    g = torch.Generator().manual_seed(5)
    users = torch.randint(0, size.users, (256,), generator=g)
    pos = data.train.col[data.train.rowptr[users].clamp(max=data.train.num_edges - 1)]
    neg = torch.randint(0, size.items, (256, 8), generator=g)

    def run(dev: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(6)
        light = LightGCN(data.bipartite(), size.users, dim=16).to(dev)
        ultra = UltraGCN(data.train, dim=16, num_negatives=8, num_neighbours=4).to(dev)
        u, p, n = users.to(dev), pos.to(dev), neg.to(dev)
        loss = torch.stack([light.loss(u, p, n[:, 0]), ultra.loss(u, p, n)])
        loss.sum().backward()
        return loss, [light.embedding.grad, ultra.user_embedding.grad]
    return f"max diff {on_both(run, device, 'LightGCN / UltraGCN', 1e-3):.2g}"


@check("LA-GNN: the generator's loss and gradients are finite; one LA-GCN step")
def check_lagnn(device: str, size: Size) -> str:
    from glt.models.lagnn import CVAE
    from glt.models.lagnn.model import la_backbone
    torch.manual_seed(7)
    x = torch.rand(size.nodes // 3, 20, device=device)
    cvae = CVAE(20, 16, 8).to(device)
    loss = cvae.loss(x, x.flip(0))
    loss.backward()
    if not torch.isfinite(loss) or not all(torch.isfinite(p.grad).all()
                                           for p in cvae.parameters()):
        raise AssertionError("non-finite generator loss or gradient")
    graph = random_graph(x.size(0), size.edges // 3, device)
    model = la_backbone("gcn", 20, 16, 3, num_inputs=2).to(device)
    out = model([x, cvae.generate(x)], graph)
    F.cross_entropy(out, torch.zeros(x.size(0), dtype=torch.long, device=device)).backward()
    return f"generator loss {float(loss.detach()):.3f}; LA-GCN output {tuple(out.shape)}"


@check("LargeGT: forward and backward under bfloat16 autocast agree with float32")
def check_largegt(device: str, size: Size) -> str:
    from glt.models import LargeGT, TokenInputs
    torch.manual_seed(8)
    graph = random_graph(size.nodes // 3, size.edges // 3, device)
    inputs = TokenInputs(graph, torch.randn(graph.num_nodes, 16, device=device), 4)
    model = LargeGT(16, 32, 5, heads=2, global_dim=8, num_codes=16, dropout=0.0,
                    attn_dropout=0.0).to(device).eval()
    batch = inputs(torch.arange(32, device=device), seed=1)
    ref = model(*batch)
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        out = model(*batch)
    out.float().sum().backward()
    if not all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None):
        raise AssertionError("non-finite gradient under autocast")
    return f"max diff to float32 {close(out, ref, 'bf16 vs fp32', 0.1):.2g}"


@check("checkpoint written on the device resumes on CPU")
def check_checkpoint(device: str, size: Size) -> str:
    from glt.train.checkpoint import copy_weights, resume_checkpoint, save_checkpoint
    model = torch.nn.Linear(4, 3).to(device)
    opt = torch.optim.Adam(model.parameters())
    best = copy_weights(model)  # the selected epoch's weights, kept on the device
    model(torch.randn(5, 4, device=device)).sum().backward()
    opt.step()
    path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
    save_checkpoint(path, {"run": 1}, model, opt, torch.Generator(), {"epoch": 1},
                    best_model=best)
    cpu = torch.nn.Linear(4, 3)
    state, kept = resume_checkpoint(path, {"run": 1}, cpu, torch.optim.Adam(cpu.parameters()),
                                    torch.Generator())
    close(cpu.weight, model.weight, "weights", 0.0)
    close(kept["weight"], best["weight"], "best weights", 0.0)
    return f"state {state}"


def _ddp_step(device: str, results: Any) -> None:
    """In a child process: one DDP step against the plain one; the result is sent
    down the pipe ``results``, then the process ends without tearing the process
    group down (torch's gloo teardown can deadlock on the interpreter lock)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=0,
                                world_size=1)
        torch.manual_seed(9)
        plain = torch.nn.Linear(6, 2).to(device)
        twin = torch.nn.Linear(6, 2).to(device)
        twin.load_state_dict(plain.state_dict())
        ddp = DistributedDataParallel(twin, device_ids=[device] if backend == "nccl" else None)
        x = torch.randn(8, 6, device=device)
        plain(x).pow(2).sum().backward()
        ddp(x).pow(2).sum().backward()
        diff = close(twin.weight.grad, plain.weight.grad, "ddp", 1e-6)
        results.send((True, f"{backend}: max diff {diff:.2g}"))
    except Exception as err:  # noqa: BLE001 - reported by the parent
        results.send((False, f"{type(err).__name__}: {err}"))
    finally:
        sys.stdout.flush()
        os._exit(0)


@check("one data-parallel step (NCCL on CUDA, gloo on CPU) equals the plain step")
def check_ddp(device: str, size: Size) -> str:
    import multiprocessing
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_ddp_step, args=(device, send))
    child.start()
    try:
        if not receive.poll(300):
            raise RuntimeError(f"no result from the data-parallel step in 300 s (exit code "
                               f"{child.exitcode})")
        ok, text = receive.recv()
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    if not ok:
        raise RuntimeError(text)
    return text


# ------------------------------------------------------------------ speed
@speed("spmm / scatter sum and max vs PyG scatter")
def speed_ops(device: str, size: Size) -> dict[str, Any]:
    from torch_geometric.utils import scatter as pyg_scatter
    graph = random_graph(size.nodes, size.edges, device)
    x = torch.randn(graph.num_nodes, size.features, device=device)
    adj = graph.transpose()
    rows = {}
    for reduce in ("sum", "max"):
        ours = timed(lambda: glt.spmm(adj, x, reduce), device)
        theirs = timed(lambda: pyg_scatter(x[graph.row()], graph.col, 0, graph.num_nodes,
                                           reduce), device)
        rows[reduce] = {"glt_s": ours, "pyg_s": theirs, "ratio": theirs / ours}
    return {"detail": rows, "summary": ", ".join(f"{r} {v['ratio']:.2f}x PyG"
                                                 for r, v in rows.items())}


@speed("k-hop sampling (torch engine), fanouts [15, 10, 5]")
def speed_sampler(device: str, size: Size) -> dict[str, Any]:
    from glt.samplers import NeighborSampler
    graph = random_graph(size.nodes, size.edges, device)
    sampler = NeighborSampler(graph, [15, 10, 5], engine="torch")
    seeds = torch.randperm(graph.num_nodes, device=device)[:1024]
    edges = sampler.sample(seeds, seed=0).edge_index.size(1)
    seconds = timed(lambda: sampler.sample(seeds, seed=0), device)
    return {"edges_per_s": edges / seconds, "summary": f"{edges / seconds / 1e6:.1f} M edges/s"}


def _epoch(model: torch.nn.Module, loss: Callable[..., torch.Tensor], batches: list,
           total: int, device: str) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        for batch in batches:
            opt.zero_grad()
            loss(*batch).backward()
            opt.step()
    return timed(run, device, reps=1) * total / len(batches)


@speed("LightGCN epoch (gowalla-sized, extrapolated) vs PyG's LightGCN")
def speed_lightgcn(device: str, size: Size) -> dict[str, Any]:
    from torch_geometric.nn.models import LightGCN as PygLightGCN
    from glt.models import LightGCN
    from glt.samplers import NegativeSampler
    data = _rec_data(size, "cpu")
    sampler = NegativeSampler(data.train.to(device))
    g = torch.Generator(device=device).manual_seed(0)
    batches = [sampler.bpr(2048, g) for _ in range(size.batches)]
    steps = -(-data.train.num_edges // 2048)
    ours = LightGCN(data.bipartite(), size.users, dim=64).to(device)
    glt_s = _epoch(ours, ours.loss, batches, steps, device)
    theirs = PygLightGCN(size.users + size.items, 64, 3).to(device)
    edge_index = data.bipartite().edge_index().to(device)

    def pyg_loss(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        emb = theirs.get_embedding(edge_index)
        pos = (emb[u] * emb[size.users + p]).sum(-1)
        neg = (emb[u] * emb[size.users + n]).sum(-1)
        return F.softplus(neg - pos).mean()
    pyg_s = _epoch(theirs, pyg_loss, batches, steps, device)
    return {"glt_s": glt_s, "pyg_s": pyg_s, "ratio": pyg_s / glt_s,
            "summary": f"{glt_s:.1f} s, {pyg_s / glt_s:.2f}x PyG ({size.batches} batches "
                       f"timed, extrapolated to {steps})"}


@speed("UltraGCN epoch (gowalla-sized, extrapolated)")
def speed_ultragcn(device: str, size: Size) -> dict[str, Any]:
    from glt.models import UltraGCN
    from glt.samplers import NegativeSampler
    data = _rec_data(size, "cpu")
    model = UltraGCN(data.train, dim=64, num_negatives=min(1500, size.items // 2)).to(device)
    sampler = NegativeSampler(data.train.to(device))
    g = torch.Generator(device=device).manual_seed(0)
    batches = list(model.batches(sampler, 512, g))[:size.batches]
    steps = -(-data.train.num_edges // 512)
    seconds = _epoch(model, model.loss, batches, steps, device)
    return {"glt_s": seconds, "summary": f"{seconds:.1f} s ({size.batches} batches timed, "
                                         f"extrapolated to {steps})"}


@speed("LargeGT training step (1024 nodes, 100 tokens)")
def speed_largegt(device: str, size: Size) -> dict[str, Any]:
    from glt.models import LargeGT, TokenInputs
    graph = random_graph(size.nodes // 10, size.edges // 10, device)
    inputs = TokenInputs(graph, torch.randn(graph.num_nodes, 100, device=device), 100)
    model = LargeGT(100, 256, 47, global_dim=64, num_codes=4096 if size is FULL else 64
                    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    nodes = torch.randperm(graph.num_nodes, device=device)[:1024]
    y = torch.zeros(nodes.numel(), dtype=torch.long, device=device)

    def step() -> None:
        opt.zero_grad()
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                            enabled=device.startswith("cuda")):
            out = model(*inputs(nodes, seed=0))
        F.cross_entropy(out.float(), y).backward()
        opt.step()
    seconds = timed(step, device)
    return {"glt_s": seconds, "summary": f"{1000 * seconds:.1f} ms per step"}


# ------------------------------------------------------------------ driver
def run_all(device: str, size: Size) -> dict[str, Any]:
    """Every check and timing; failures are recorded, never stop the run."""
    report: dict[str, Any] = {"device": device, "checks": [], "speed": []}
    for kind, entries in (("checks", CHECKS), ("speed", SPEEDS)):
        for name, fn in entries:
            t0 = time.perf_counter()
            try:
                out = fn(device, size)
                row = {"name": name, "ok": True, **({"detail": out} if isinstance(out, str)
                                                    else out)}
            except Exception as err:  # noqa: BLE001 - a failure is a row, not the end
                row = {"name": name, "ok": False, "error": f"{type(err).__name__}: {err}",
                       "traceback": traceback.format_exc(limit=4)}
            row["seconds"] = time.perf_counter() - t0
            report[kind].append(row)
            status = "ok  " if row["ok"] else "FAIL"
            text = row.get("summary") or row.get("detail") or row.get("error")
            print(f"{status} {row['seconds']:6.1f}s  {name}: {text}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--smoke", action="store_true", help="toy sizes (on CPU: under a minute)")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    size = SMOKE if args.smoke else FULL
    name = (torch.cuda.get_device_name() if args.device.startswith("cuda")
            else platform.processor() or platform.machine())
    print(f"glt device check on {args.device} ({name}), torch {torch.__version__}, "
          f"{'smoke' if args.smoke else 'full'} sizes", flush=True)
    t0 = time.perf_counter()
    report = run_all(args.device, size)
    report.update(hardware=name, torch=torch.__version__, smoke=args.smoke,
                  seconds=time.perf_counter() - t0, python=sys.version.split()[0])
    failed = [r["name"] for r in report["checks"] + report["speed"] if not r["ok"]]
    print(f"\n{len(report['checks']) + len(report['speed']) - len(failed)} passed, "
          f"{len(failed)} failed in {report['seconds']:.0f} s")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
