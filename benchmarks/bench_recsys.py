"""LightGCN / UltraGCN speed: glt against PyG's LightGCN and a dense evaluator.

On one LightGCN-format set (default: gowalla from ``../shared/data/rec``):

- LightGCN training: the same BPR loop (same triples, batch 2048, Adam, decay
  1e-4, 3 layers, dim 64) over ``glt.models.LightGCN`` and over
  ``torch_geometric.nn.models.LightGCN``, and over the authors' propagation
  (``torch.sparse.mm`` with a COO ``D^-1/2 A D^-1/2``, as LightGCN-PyTorch's
  ``computer()``); seconds per batch and the implied seconds per epoch.
- Evaluation: glt's chunked full ranking (recall/ndcg/precision/hit@20) against
  a straightforward implementation that scores every user against every item
  at once (one dense users x items matrix), on the same embeddings.
- UltraGCN training with the dataset's official preset: seconds per batch and
  epoch, and the item-item top-K construction, for glt and for the authors'
  formulation (a dense items x items weight matrix cut row by row to its top K;
  a loss gathering ``[B, negatives, d]`` item rows), on the same batches from the
  same initial embeddings; both report their first batch's loss, which must agree.
  ``ultragcn-unfused`` is glt's UltraGCN with its loss taken apart again (the
  products from ``gather_dot``, then torch's ``softplus`` and a dot product), to
  time the fused ``softplus_dot_loss`` against it.

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
import sys
import time
from typing import Any, Optional

from _memory import status_mb
from _worker import worker_result

CASES = ("lightgcn-glt", "lightgcn-pyg", "lightgcn-ref", "eval-glt", "eval-dense",
         "ultragcn-glt", "ultragcn-unfused", "ultragcn-ref")


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


def reference_item_neighbours(train, k: int):
    """UltraGCN's item-item graph as the authors' code builds it: ``G = R^T R``
    (float32), a dense ``[I, I]`` matrix of ``sqrt(g_i + 1) / g_i * 1 / sqrt(g_j + 1)``,
    multiplied row by row with ``G`` and cut to its top ``k``.
    Returns ``(neighbours [I, k] int64, weights [I, k] float32)``."""
    import numpy as np
    import scipy.sparse as sp
    import torch
    num_users, num_items = train.shape
    r = sp.csr_matrix((np.ones(train.num_edges, np.float32), train.col.numpy(),
                       train.rowptr.numpy()), shape=(num_users, num_items))
    a = (r.T @ r).tocsr()
    g_row, g_col = np.asarray(a.sum(1)).reshape(-1), np.asarray(a.sum(0)).reshape(-1)
    with np.errstate(divide="ignore"):
        dense = torch.from_numpy((np.sqrt(g_row + 1) / g_row).reshape(-1, 1)
                                 .dot((1 / np.sqrt(g_col + 1)).reshape(1, -1)))
    neighbours, weights = torch.zeros(num_items, k), torch.zeros(num_items, k)
    for i in range(num_items):
        row = dense[i] * torch.from_numpy(a.getrow(i).toarray()[0])
        weights[i], neighbours[i] = torch.topk(row, k)
    return neighbours.long(), weights


def reference_ultragcn_loss(user_emb, item_emb, beta_u, beta_i, neighbours, weights,
                            users, pos, neg, p: dict[str, Any]):
    """UltraGCN's loss as the authors' code computes it: embedding rows gathered
    for the positives ``[B, d]``, negatives ``[B, M, d]`` and item neighbours
    ``[B, K, d]``, per-pair weights built with ``repeat_interleave``."""
    import torch
    import torch.nn.functional as F
    u, size = user_emb[users], neg.size(1)
    pos_scores = (u * item_emb[pos]).sum(-1)
    neg_scores = (u.unsqueeze(1) * item_emb[neg]).sum(-1)
    pos_w = p["w1"] + p["w2"] * beta_u[users] * beta_i[pos]
    neg_w = p["w3"] + p["w4"] * torch.repeat_interleave(beta_u[users], size) * beta_i[
        neg.flatten()]
    neg_loss = F.binary_cross_entropy_with_logits(
        neg_scores, torch.zeros_like(neg_scores), weight=neg_w.view(neg_scores.size()),
        reduction="none").mean(-1)
    pos_loss = F.binary_cross_entropy_with_logits(
        pos_scores, torch.ones_like(pos_scores), weight=pos_w, reduction="none")
    loss = (pos_loss + neg_loss * p["negative_weight"]).sum()
    loss = loss + p["gamma"] * (user_emb.pow(2).sum() + item_emb.pow(2).sum()) / 2
    sim = (u.unsqueeze(1) * item_emb[neighbours[pos]]).sum(-1)
    return loss + p["lambda_"] * (-weights[pos] * sim.sigmoid().log()).sum()


def worker(case: str, dataset: str, root: Optional[str], batches: int,
           device: str = "cpu") -> dict[str, Any]:
    """Run one case; ``{seconds_per_batch, batches_per_epoch, seconds, peak_mb, ...}``."""
    import torch
    from torch_geometric.nn.models import LightGCN as PyGLightGCN

    from glt.datasets import load_rec
    from glt.models.lightgcn import LightGCN
    from glt.models.ultragcn import UltraGCN
    from glt.samplers import NegativeSampler
    from glt.recipes.recommendation import TRAIN_KEYS, ULTRAGCN_PRESETS
    from glt.train.ranking import dot_scorer, rank_metrics
    from glt.train.recsys import adam

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
        elif case == "lightgcn-ref":
            e0 = torch.nn.Parameter(emb.clone())
            model = torch.nn.ParameterList([e0])
            src, dst = edge_index
            deg = torch.zeros(graph.num_nodes, device=dev).index_add_(
                0, src, torch.ones_like(src, dtype=torch.float))
            norm = deg[src].rsqrt() * deg[dst].rsqrt()
            adj = torch.sparse_coo_tensor(edge_index, norm, (graph.num_nodes,) * 2,
                                          check_invariants=False).coalesce()

            def final_fn():
                layers = [e0]
                for _ in range(3):
                    layers.append(torch.sparse.mm(adj, layers[-1]))
                return torch.stack(layers, dim=1).mean(dim=1)
        else:
            model = PyGLightGCN(graph.num_nodes, 64, num_layers=3).to(dev)
            with torch.no_grad():
                model.embedding.weight.copy_(emb)
            final_fn, e0 = (lambda: model.get_embedding(edge_index)), model.embedding.weight
        # each side's own optimiser: glt's training loop's, torch's default for the others
        opt = (adam if case.endswith("glt") else torch.optim.Adam)(model.parameters(), lr=1e-3)
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
        preset = ULTRAGCN_PRESETS[data.name]
        settings = {k: v for k, v in preset.items() if k not in TRAIN_KEYS}
        size, train = preset["batch_size"], data.train
        out["batches_per_epoch"] = math.ceil(train.num_edges / size)
        torch.manual_seed(1)  # the same initial embeddings in both cases
        t0 = clock()
        if case == "ultragcn-unfused":
            import glt.models.ultragcn as ultragcn_module
            from glt.ops import gather_dot
            from glt.ops.softplus_dot import weighted_softplus

            def unfused(u, table, idx, w, p):
                return weighted_softplus(gather_dot(u, table, idx), w, p)
            ultragcn_module.checked_softplus_dot_loss = unfused
        if case in ("ultragcn-glt", "ultragcn-unfused"):
            # as glt's training loop: the L2 term's gradient inside Adam's update
            model = UltraGCN(train, **settings, l2_in_optimizer=True).to(dev)
            params, decay = list(model.parameters()), model.weight_decay
            out["setup_seconds"] = clock() - t0
            out["topk_weight_sum"] = float(model.ii_weights.double().sum())
            loss_fn = model.loss
        else:
            dim, std = settings["dim"], settings["init_std"]
            params = [torch.nn.Parameter(torch.randn(n, dim, device=dev) * std)
                      for n in train.shape]
            neighbours, weights = reference_item_neighbours(train, settings["num_neighbours"])
            out["setup_seconds"] = clock() - t0
            out["topk_weight_sum"] = float(weights.double().sum())
            d_u, d_i = train.out_degree().double(), train.in_degree().double()
            beta_u, beta_i = ((d_u + 1).sqrt() / d_u).float(), (d_i + 1).rsqrt().float()
            ref = [t.to(dev) for t in (beta_u, beta_i, neighbours, weights)]
            decay = 0.0  # the authors' L2 term is in their loss

            def loss_fn(users, pos, neg):
                return reference_ultragcn_loss(*params, *ref, users, pos, neg, settings)
        out["setup_peak_mb"] = status_mb("VmHWM") - base
        opt = (adam if case.endswith("glt") else torch.optim.Adam)(params, lr=preset["lr"],
                                                                    weight_decay=decay)
        # the same shuffled pairs and negatives in both cases (UltraGCN.batches' order)
        gen = torch.Generator(device=dev).manual_seed(0)
        train = train.to(dev)
        sampler = NegativeSampler(train)
        order = torch.randperm(train.num_edges, generator=gen, device=dev)
        pairs = zip(train.row()[order].split(size), train.col[order].split(size))
        times, losses = [], []
        for _ in range(batches + 1):
            t0 = clock()
            u, p = next(pairs)
            opt.zero_grad()
            loss = loss_fn(u, p, sampler.negatives(u, settings["num_negatives"], generator=gen))
            loss.backward()
            opt.step()
            times.append(clock() - t0)
            losses.append(float(loss.detach()))
        out["seconds_per_batch"] = sum(times[1:]) / batches
        out["first_loss"] = losses[0]
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
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES),
                        help="cases to run (default: all); a summary line needs both sides")
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.dataset, args.root, args.batches,
                                args.device)))
        return
    from glt.train.args import check_device, check_parsed, count
    check_parsed(parser, args, {"batches": count, "device": check_device})
    import torch
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else platform.processor() or platform.machine())
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  {where}  "
          f"dataset {args.dataset}")
    mem = "peak_gpu_mb" if args.device.startswith("cuda") else "peak_mb"
    results = {}
    for case in args.cases:
        cmd = [sys.executable, __file__, "--worker", case, "--dataset", args.dataset,
               "--root", args.root, "--batches", str(args.batches), "--device", args.device]
        results[case] = worker_result(cmd, case)
        print(f"  {case:14} {json.dumps(results[case])}", flush=True)
    lg = results.get("lightgcn-glt")
    print()
    for name, case in (("PyG", "lightgcn-pyg"), ("the authors' torch.sparse.mm", "lightgcn-ref")):
        if lg is None or case not in results:
            continue
        base = results[case]
        print(f"LightGCN epoch: glt {lg['seconds_per_epoch']:.1f}s, {name} "
              f"{base['seconds_per_epoch']:.1f}s -> glt "
              f"{base['seconds_per_epoch'] / lg['seconds_per_epoch']:.2f}x faster; peak "
              f"{lg[mem]:.0f} MB vs {base[mem]:.0f} MB; last loss {lg['loss']:.6f} vs "
              f"{base['loss']:.6f}")
    if {"eval-glt", "eval-dense"} <= results.keys():
        ev, dense = results["eval-glt"], results["eval-dense"]
        print(f"Evaluation: glt {ev['seconds']:.2f}s, dense {dense['seconds']:.2f}s -> glt "
              f"{dense['seconds'] / ev['seconds']:.2f}x faster; peak {ev[mem]:.0f} MB vs "
              f"{dense[mem]:.0f} MB; same recall@20: "
              f"{abs(ev['recall@20'] - dense['recall@20']) < 1e-9}")
    if {"ultragcn-glt", "ultragcn-ref"} <= results.keys():
        ug, ref = results["ultragcn-glt"], results["ultragcn-ref"]
        agree = abs(ug["first_loss"] - ref["first_loss"]) / abs(ref["first_loss"])
        versus = (f"{ug['seconds_per_epoch'] / lg['seconds_per_epoch']:.2f}x LightGCN's epoch; "
                  if lg is not None else "")
        print(f"UltraGCN epoch (official preset): glt {ug['seconds_per_epoch']:.1f}s, authors' "
              f"formulation {ref['seconds_per_epoch']:.1f}s -> glt "
              f"{ref['seconds_per_epoch'] / ug['seconds_per_epoch']:.2f}x faster; {versus}"
              f"peak {ug[mem]:.0f} MB vs {ref[mem]:.0f} MB; "
              f"first-batch loss {ug['first_loss']:.6g} vs {ref['first_loss']:.6g} "
              f"(relative difference {agree:.1e})")
    if {"ultragcn-glt", "ultragcn-unfused"} <= results.keys():
        ug, apart = results["ultragcn-glt"], results["ultragcn-unfused"]
        agree = abs(ug["first_loss"] - apart["first_loss"]) / abs(apart["first_loss"])
        versus = (f"; LightGCN's epoch {lg['seconds_per_epoch']:.1f}s" if lg is not None else "")
        print(f"UltraGCN epoch: fused loss {ug['seconds_per_epoch']:.1f}s, unfused "
              f"{apart['seconds_per_epoch']:.1f}s -> "
              f"{apart['seconds_per_epoch'] / ug['seconds_per_epoch']:.2f}x{versus}; "
              f"first-batch loss {ug['first_loss']:.6g} vs {apart['first_loss']:.6g} "
              f"(relative difference {agree:.1e})")
    if {"ultragcn-glt", "ultragcn-ref"} <= results.keys():
        print(f"UltraGCN item-item top-K: glt {ug['setup_seconds']:.1f}s, authors' dense build "
              f"{ref['setup_seconds']:.1f}s -> glt "
              f"{ref['setup_seconds'] / ug['setup_seconds']:.2f}x faster; peak "
              f"{ug['setup_peak_mb']:.0f} MB vs {ref['setup_peak_mb']:.0f} MB; sum of the "
              f"top-K weights {ug['topk_weight_sum']:.6g} vs {ref['topk_weight_sum']:.6g}")

if __name__ == "__main__":
    main()
