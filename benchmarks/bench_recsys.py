"""LightGCN / UltraGCN speed: glt against PyG's LightGCN and a dense evaluator.

On one LightGCN-format set (default: gowalla from ``../shared/data/rec``):

- LightGCN training: the same BPR loop (same triples, batch 2048, Adam, decay
  1e-4, 3 layers, dim 64) over ``glt.models.LightGCN`` and over
  ``torch_geometric.nn.models.LightGCN``; seconds per batch and the implied
  seconds per epoch.
- Evaluation: glt's chunked full ranking (recall/ndcg/precision/hit@20) against
  a straightforward implementation that scores every user against every item
  at once (one dense users x items matrix), on the same embeddings.
- UltraGCN training with the dataset's official preset: seconds per batch and epoch.

Each case runs in a fresh subprocess that reports its peak memory above the
memory after its imports (with ``--device cuda``: peak GPU memory above the
inputs, and times taken after synchronising the device).

    python benchmarks/bench_recsys.py --dataset gowalla --root ../shared/data/rec
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from typing import Any, Optional

from _memory import status_mb

CASES = ("lightgcn-glt", "lightgcn-pyg", "eval-glt", "eval-dense", "ultragcn-glt")


def bpr_step(final, e0, opt, users, pos, neg, num_users: int, decay: float = 1e-4) -> float:
    """One BPR step as LightGCN's code: ``final`` are the propagated embeddings
    ``[U + I, d]``, ``e0`` the layer-0 ones."""
    import torch.nn.functional as F
    u, p, n = final[users], final[num_users + pos], final[num_users + neg]
    loss = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean()
    reg = (e0[users].pow(2).sum() + e0[num_users + pos].pow(2).sum()
           + e0[num_users + neg].pow(2).sum()) / (2 * users.numel())
    opt.zero_grad()
    (loss + decay * reg).backward()
    opt.step()
    return float(loss.detach())


def dense_metrics(user_emb, item_emb, train, test, k: int = 20) -> dict[str, float]:
    """The straightforward evaluator: all scores at once, dense masks."""
    import torch
    scores = user_emb @ item_emb.T  # [U, I]
    scores[train.row(), train.col] = -math.inf
    top = scores.topk(k, dim=1).indices
    relevant = torch.zeros_like(scores, dtype=torch.bool)
    relevant[test.row(), test.col] = True
    hits = relevant.gather(1, top).double()
    n_test = relevant.sum(1).double()
    keep = n_test > 0
    discount = 1 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64, device=scores.device))
    ideal = torch.cat([discount.new_zeros(1), discount.cumsum(0)])
    dcg = (hits * discount).sum(1)
    return {"recall@20": float((hits.sum(1)[keep] / n_test[keep]).mean()),
            "ndcg@20": float((dcg[keep] / ideal[n_test[keep].clamp(max=k).long()]).mean())}


def worker(case: str, dataset: str, root: Optional[str], batches: int,
           device: str = "cpu") -> dict[str, Any]:
    """Run one case; ``{seconds_per_batch, batches_per_epoch, seconds, peak_mb, ...}``."""
    import torch
    from torch_geometric.nn.models import LightGCN as PyGLightGCN

    from glt.datasets import load_rec
    from glt.models.lightgcn import LightGCN
    from glt.models.ultragcn import UltraGCN
    from glt.samplers import NegativeSampler
    from glt.train.rec_cli import PRESETS, TRAIN_KEYS
    from glt.train.ranking import dot_scorer, rank_metrics

    data = load_rec(dataset, root, download=False)
    graph = data.bipartite()
    gen = torch.Generator().manual_seed(0)
    users, pos, neg = NegativeSampler(data.train).bpr(generator=gen)
    torch.manual_seed(0)
    emb = torch.randn(data.num_users + data.num_items, 64) * 0.1
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    graph, users, pos, neg, emb = (t.to(dev) for t in (graph, users, pos, neg, emb))
    edge_index = graph.edge_index()

    def clock() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()
    base = status_mb("VmRSS")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated()
    out: dict[str, Any] = {}
    if case.startswith("lightgcn"):
        size = 2048
        out["batches_per_epoch"] = math.ceil(users.numel() / size)
        if case == "lightgcn-glt":
            model = LightGCN(graph, data.num_users).to(dev)
            with torch.no_grad():
                model.embedding.copy_(emb)
            final_fn, e0 = model.propagate, model.embedding
        else:
            model = PyGLightGCN(graph.num_nodes, 64, num_layers=3).to(dev)
            with torch.no_grad():
                model.embedding.weight.copy_(emb)
            final_fn, e0 = (lambda: model.get_embedding(edge_index)), model.embedding.weight
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times, losses = [], []
        for b in range(batches + 1):  # the first batch warms up (caches, kernels)
            sl = slice(b * size, (b + 1) * size)
            t0 = clock()
            losses.append(bpr_step(final_fn(), e0, opt, users[sl], pos[sl], neg[sl],
                                   data.num_users))
            times.append(clock() - t0)
        out["seconds_per_batch"] = sum(times[1:]) / batches
        out["loss"] = losses[-1]
    elif case.startswith("eval"):
        model = LightGCN(graph, data.num_users).to(dev)
        with torch.no_grad():
            model.embedding.copy_(emb)
            u_emb, i_emb = model()
        t0 = clock()
        if case == "eval-glt":
            m = rank_metrics(dot_scorer(u_emb, i_emb), data.train, data.test, (20,))
        else:
            m = dense_metrics(u_emb, i_emb, data.train.to(dev), data.test.to(dev))
        out["seconds"] = clock() - t0
        out["recall@20"], out["ndcg@20"] = m["recall@20"], m["ndcg@20"]
    else:
        settings = {k: v for k, v in PRESETS["ultragcn"][data.name].items()
                    if k not in TRAIN_KEYS}
        size = PRESETS["ultragcn"][data.name]["batch_size"]
        t0 = clock()
        model = UltraGCN(data.train, **settings).to(dev)
        out["setup_seconds"] = clock() - t0
        out["batches_per_epoch"] = math.ceil(data.train.num_edges / size)
        opt = torch.optim.Adam(model.parameters(), lr=PRESETS["ultragcn"][data.name]["lr"])
        gen = torch.Generator(device=dev).manual_seed(0)
        it = model.batches(NegativeSampler(data.train.to(dev)), size, gen)
        times = []
        for _ in range(batches + 1):
            t0 = clock()
            batch = next(it)
            opt.zero_grad()
            model.loss(*batch).backward()
            opt.step()
            times.append(clock() - t0)
        out["seconds_per_batch"] = sum(times[1:]) / batches
    if "seconds_per_batch" in out:
        out["seconds_per_epoch"] = out["seconds_per_batch"] * out["batches_per_epoch"]
    out["peak_mb"] = status_mb("VmHWM") - base
    if cuda:
        out["peak_gpu_mb"] = (torch.cuda.max_memory_allocated() - gpu_base) / 2**20
    return out


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--root", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "rec"))
    parser.add_argument("--batches", type=int, default=20, help="timed batches per case")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.dataset, args.root, args.batches,
                                args.device)))
        return
    import torch
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else platform.processor() or platform.machine())
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  {where}  "
          f"dataset {args.dataset}")
    mem = "peak_gpu_mb" if args.device.startswith("cuda") else "peak_mb"
    results = {}
    for case in CASES:
        cmd = [sys.executable, __file__, "--worker", case, "--dataset", args.dataset,
               "--root", args.root, "--batches", str(args.batches), "--device", args.device]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[case] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {case:14} {json.dumps(results[case])}", flush=True)
    lg, pyg = results["lightgcn-glt"], results["lightgcn-pyg"]
    speedup = pyg["seconds_per_epoch"] / lg["seconds_per_epoch"]
    print(f"\nLightGCN epoch: glt {lg['seconds_per_epoch']:.1f}s, PyG "
          f"{pyg['seconds_per_epoch']:.1f}s -> glt {speedup:.2f}x faster; "
          f"peak {lg[mem]:.0f} MB vs {pyg[mem]:.0f} MB")
    ev, dense = results["eval-glt"], results["eval-dense"]
    print(f"Evaluation: glt {ev['seconds']:.2f}s, dense {dense['seconds']:.2f}s -> glt "
          f"{dense['seconds'] / ev['seconds']:.2f}x faster; peak {ev[mem]:.0f} MB vs "
          f"{dense[mem]:.0f} MB; same recall@20: "
          f"{abs(ev['recall@20'] - dense['recall@20']) < 1e-9}")
    ug = results["ultragcn-glt"]
    ratio = ug["seconds_per_epoch"] / lg["seconds_per_epoch"]
    print(f"UltraGCN epoch (official preset): {ug['seconds_per_epoch']:.1f}s "
          f"(setup {ug['setup_seconds']:.1f}s), {ratio:.2f}x LightGCN's; "
          f"peak {ug[mem]:.0f} MB")


if __name__ == "__main__":
    main()
