"""Link prediction on the real ogbl-ddi: glt's training epoch and full evaluation
against the same loop on PyG's layers (OGB's example, ``examples/linkproppred/ddi``).

Both sides train the same model (learned embeddings, a 2-layer GCN or GraphSAGE
encoder of width 256, OGB's link predictor) from the same weights on the same
batches of training edges and the same negative pairs; PyG's encoder runs
``GCNConv(cached=True)`` / ``SAGEConv`` on the adjacency as OGB's example does
(a sparse matrix; ``--pyg-input edge_index`` for the gather-scatter path). Before
timing, the two sides' evaluation scores and one training step's loss and
gradients (without dropout) are checked equal. Prints ``ratio = PyG / glt``.
A second table times a cached load of the release: glt's ``load_ogb`` against
ogb's ``PygLinkPropPredDataset`` (whose ``torch.load`` of OGB's own split files
is allowed to unpickle them: ogb 1.3.6 cannot read them under torch >= 2.6).

    python benchmarks/bench_link.py --root ../shared/data/ogb
    python benchmarks/bench_link.py --root ../shared/data/ogb --model gcn --steps 4
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench_node import pyg_conv
from glt.datasets import load_ogb
from glt.datasets._download import DownloadError
from glt.models.link import LinkModel, LinkPredictor, link_encoder
from glt.samplers import NegativeSampler
from glt.train.args import count, non_negative_int
from glt.train.link import LinkTrainConfig, evaluate_link


class PygLinkModel(nn.Module):
    """OGB's example model on PyG's convs, with glt's model's weights."""

    def __init__(self, model: LinkModel) -> None:
        super().__init__()
        self.convs = nn.ModuleList(pyg_conv(c) for c in model.encoder.convs)
        for ours, theirs in zip(model.encoder.convs, self.convs):
            theirs.load_state_dict(ours.state_dict())
        self.dropout = model.encoder.dropout
        self.embedding = nn.Embedding.from_pretrained(model.embedding.weight.detach().clone(),
                                                      freeze=False)
        self.lins = nn.ModuleList(nn.Linear(lin.in_features, lin.out_features)
                                  for lin in model.predictor.lins)
        self.lins.load_state_dict(model.predictor.lins.state_dict())

    def encode(self, adj: object) -> Tensor:
        x = self.embedding.weight
        for conv in self.convs[:-1]:
            x = F.dropout(F.relu(conv(x, adj)), self.dropout, self.training)
        return self.convs[-1](x, adj)

    def score(self, h: Tensor, edges: Tensor) -> Tensor:
        x = h[edges[:, 0]] * h[edges[:, 1]]
        for lin in self.lins[:-1]:
            x = F.dropout(F.relu(lin(x)), self.dropout, self.training)
        return self.lins[-1](x).view(-1)

    def parts(self) -> list[list[nn.Parameter]]:
        return [[self.embedding.weight], list(self.convs.parameters()),
                list(self.lins.parameters())]


def glt_parts(model: LinkModel) -> list[list[nn.Parameter]]:
    return [[model.embedding.weight], list(model.encoder.parameters()),
            list(model.predictor.parameters())]


def step(encode: Callable[[], Tensor], score: Callable[[Tensor, Tensor], Tensor],
         parts: list[list[nn.Parameter]], opt: torch.optim.Optimizer, pos: Tensor,
         neg: Tensor) -> Tensor:
    """One step of OGB's ddi loop: encode, BCE on the batch, clip each part, Adam."""
    opt.zero_grad()
    h = encode()
    loss = F.softplus(-score(h, pos)).mean() + F.softplus(score(h, neg)).mean()
    loss.backward()
    for part in parts:
        nn.utils.clip_grad_norm_(part, 1.0)
    opt.step()
    return loss.detach()


@torch.no_grad()
def pyg_evaluate(model: PygLinkModel, adj: object, split: dict, evaluator: object,
                 batch: int) -> dict[str, float]:
    model.eval()
    h = model.encode(adj)
    out = {}
    for name in ("valid", "test"):
        pos, neg = (torch.cat([model.score(h, c) for c in split[name][k].split(batch)])
                    for k in ("edge", "edge_neg"))
        out[name] = float(evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})[
            evaluator.eval_metric])
    return out


def check_equal(model: LinkModel, twin: PygLinkModel, data: object, adj: object,
                pos: Tensor, neg: Tensor) -> None:
    """Same scores in evaluation and the same loss and gradients of one training
    step without dropout (the two sides draw dropout masks differently)."""
    model.eval()
    twin.eval()
    with torch.no_grad():
        ours = model.score(model.encode(None, data.graph), pos)
        theirs = twin.score(twin.encode(adj), pos)
    assert torch.allclose(ours, theirs, atol=1e-4), float((ours - theirs).abs().max())
    losses, grads = [], []
    for encode, score, parts in ((lambda: model.encode(None, data.graph), model.score,
                                  glt_parts(model)),
                                 (lambda: twin.encode(adj), twin.score, twin.parts())):
        params = [p for part in parts for p in part]
        for p in params:
            p.grad = None
        h = encode()
        loss = F.softplus(-score(h, pos)).mean() + F.softplus(score(h, neg)).mean()
        loss.backward()
        losses.append(float(loss))
        grads.append([p.grad for p in params])
    assert abs(losses[0] - losses[1]) < 1e-5, losses
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3), float((a - b).abs().max())


def load_seconds(root: str) -> dict[str, float]:
    """Cached loads of the release: glt's against ogb's processed file."""
    from ogb.linkproppred import PygLinkPropPredDataset
    work = tempfile.mkdtemp()
    try:
        shutil.copytree(os.path.join(root, "ogbl_ddi"), os.path.join(work, "ogbl_ddi"))
        os.chmod(os.path.join(work, "ogbl_ddi"), 0o755)
        os.makedirs(os.path.join(work, "ogbl_ddi", "processed"))
        real_load = torch.load
        torch.load = lambda *a, **k: real_load(*a, **{**k, "weights_only": False})
        try:
            out = {}
            for name, load in (
                    ("glt load_ogb", lambda: load_ogb("ogbl-ddi", work).split),
                    ("ogb PygLinkPropPredDataset", lambda: PygLinkPropPredDataset(
                        "ogbl-ddi", root=work).get_edge_split())):
                t0 = time.perf_counter()
                load()  # first load: processing
                first = time.perf_counter() - t0
                t0 = time.perf_counter()
                load()
                out[name] = (first, time.perf_counter() - t0)
            return out
        finally:
            torch.load = real_load
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="../shared/data/ogb", help="folder holding ogbl_ddi/")
    p.add_argument("--model", choices=["sage", "gcn"], default="sage")
    p.add_argument("--steps", type=count, default=None, help="time this many steps and "
                   "extrapolate to the epoch's 17 (default: the whole epoch)")
    p.add_argument("--pyg-input", choices=["sparse", "edge_index"], default="sparse")
    p.add_argument("--curve-epochs", type=non_negative_int, default=0, help="then train both "
                   "sides on to this epoch on the same batches and print their validation "
                   "Hits@20 every 5 epochs (the curves must agree within noise)")
    args = p.parse_args()
    os.environ.setdefault("GLT_DATA", tempfile.mkdtemp())
    try:
        data = load_ogb("ogbl-ddi", args.root, download=False)
    except (FileNotFoundError, NotADirectoryError, ValueError, DownloadError) as err:
        p.error(str(err))
    evaluator = data.evaluator()
    torch.manual_seed(0)
    model = LinkModel(link_encoder(args.model, 256, 256, 2, 0.5), LinkPredictor(256, 256, 2, 0.5),
                      data.num_nodes, 256)
    twin = PygLinkModel(model)
    edge_index = data.graph.edge_index()
    from torch_geometric.utils import to_torch_csr_tensor
    adj = (to_torch_csr_tensor(edge_index.flip(0), size=(data.num_nodes, data.num_nodes))
           if args.pyg_input == "sparse" else edge_index)
    train = data.split["train"]["edge"]
    gen = torch.Generator().manual_seed(0)
    sampler = NegativeSampler(data.graph)
    batches = [(train[c], sampler.pairs(c.numel(), gen))
               for c in torch.randperm(train.size(0), generator=gen).split(64 * 1024)]
    check_equal(model, twin, data, adj, *batches[0])
    print(f"checked: equal scores, loss and gradients ({args.model}, PyG on {args.pyg_input})")
    steps = batches if args.steps is None else batches[:args.steps]
    scale = len(batches) / len(steps)
    rows, sides = {}, {}
    for name, encode, score, parts, params, evaluate in (
            ("glt", lambda: model.encode(None, data.graph), model.score, glt_parts(model),
             model.parameters(),
             lambda: evaluate_link(model, data, evaluator, LinkTrainConfig())),
            ("PyG", lambda: twin.encode(adj), twin.score, twin.parts(), twin.parameters(),
             lambda: pyg_evaluate(twin, adj, data.split, evaluator, 64 * 1024))):
        opt = torch.optim.Adam(params, lr=0.005)
        net = model if name == "glt" else twin
        sides[name] = (net, encode, score, parts, opt, evaluate)
        net.train()
        t0 = time.perf_counter()
        for pos, neg in steps:
            step(encode, score, parts, opt, pos, neg)
        epoch = (time.perf_counter() - t0) * scale
        t0 = time.perf_counter()
        hits = evaluate()
        rows[name] = (epoch, time.perf_counter() - t0, hits["valid"])
    print(f"\n{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads;"
          f" ogbl-ddi, {args.model}, batch 65536"
          + (f" ({len(steps)} of {len(batches)} steps timed, extrapolated)" if scale > 1 else ""))
    print(f"{'':6} {'epoch s':>9} {'eval s':>8} {'valid Hits@20 after':>20}")
    for name, (epoch, ev, hits) in rows.items():
        print(f"{name:6} {epoch:9.2f} {ev:8.2f} {100 * hits:20.2f}")
    print(f"ratio PyG / glt: epoch {rows['PyG'][0] / rows['glt'][0]:.2f}x, "
          f"evaluation {rows['PyG'][1] / rows['glt'][1]:.2f}x")
    if args.curve_epochs > 1:
        print("\nvalidation Hits@20 on the same batches (epoch: glt / PyG):")
        for epoch in range(2, args.curve_epochs + 1):
            epoch_batches = [(train[c], sampler.pairs(c.numel(), gen)) for c in
                             torch.randperm(train.size(0), generator=gen).split(64 * 1024)]
            for net, encode, score, parts, opt, _ in sides.values():
                net.train()
                for pos, neg in epoch_batches:
                    step(encode, score, parts, opt, pos, neg)
            if epoch % 5 == 0:
                hits = [side[5]()["valid"] for side in sides.values()]
                print(f"{epoch:5d}: {100 * hits[0]:.2f} / {100 * hits[1]:.2f}", flush=True)
    print("\ncached load of the release (first load, then cached):")
    for name, (first, cached) in load_seconds(args.root).items():
        print(f"{name:28} {first:8.2f} s {cached:8.3f} s")


if __name__ == "__main__":
    main()
