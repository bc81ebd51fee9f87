"""Training pieces of local augmentation (LA-GNN): fresh generated feature sets
every step, mean NLL over ``samples`` forward passes plus a consistency term."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.datasets.node import NodeDataset
from glt.graph import CSRGraph
from glt.models.gnn import GCN
from glt.models.lagnn.cvae import CVAE, train_cvae
from glt.models.lagnn.model import INITS, consistency_loss, lagnn_init_
from glt.norm import gcn_norm
from glt.ops import spmm
from glt.ops._csr import gather_rows, row_entries
from glt.ops.dropout import dropout
from glt.samplers.loader import MiniBatch
from glt.train.sources import BatchLoss, BatchPredict, Predict


def augmentation(cvae: CVAE, raw_x: Tensor, x: Tensor, num_inputs: int,
                 normalize: Callable[[Tensor], Tensor]
                 ) -> Callable[[], list[Tensor]]:
    """A function returning ``[x, x_hat_1, ..., x_hat_{num_inputs-1}]``: the model's
    features and freshly generated sets (decoded from ``raw_x``, then ``normalize``d)."""
    sample = cvae.sampler(raw_x)

    def draw() -> list[Tensor]:
        return [x] + [normalize(sample(None)) for _ in range(num_inputs - 1)]
    return draw


def batch_augmentation(cvae: CVAE, raw_x: Tensor, x: Tensor, num_inputs: int,
                       normalize: Callable[[Tensor], Tensor]
                       ) -> Callable[[Tensor], list[Tensor]]:
    """As :func:`augmentation` for the nodes of a mini-batch: ``draw(nodes [n])``
    returns ``x[nodes]`` (sparse CSR rows where ``x`` is) and ``num_inputs - 1``
    sets generated for those nodes only."""
    def draw(nodes: Tensor) -> list[Tensor]:
        cond = gather_rows(raw_x, nodes)
        generated = [normalize(cvae.generate(cond)) for _ in range(num_inputs - 1)]
        return [gather_rows(x, nodes)] + generated
    return draw


def la_loss(logits: Callable[[], Tensor], rows: Tensor | slice, y: Tensor, samples: int,
            lam: float, temperature: float) -> Tensor:
    """Mean NLL of ``logits()[rows]`` against ``y`` over ``samples`` calls (each on
    freshly generated sets) plus ``lam`` x the consistency loss at ``temperature``
    over all rows of ``logits()``."""
    log_probs = [F.log_softmax(logits(), dim=-1) for _ in range(samples)]
    nll = torch.stack([F.nll_loss(lp[rows], y) for lp in log_probs]).mean()
    return nll + lam * consistency_loss(log_probs, temperature)


def la_objective(draw: Callable[[], list[Tensor]], samples: int, lam: float,
                 temperature: float) -> tuple[Predict, Predict]:
    """``(train_loss, predict)`` of a :class:`~glt.train.sources.FullGraph` source:
    :func:`la_loss` on the training nodes; prediction uses one fresh draw."""
    if samples < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")

    def train_loss(model: nn.Module, data: NodeDataset) -> Tensor:
        return la_loss(lambda: model(draw(), data.graph), data.train_mask,
                       data.y[data.train_mask], samples, lam, temperature)

    def predict(model: nn.Module, data: NodeDataset) -> Tensor:
        return model(draw(), data.graph)
    return train_loss, predict


def la_batch_objective(draw: Callable[[Tensor], list[Tensor]], samples: int, lam: float,
                       temperature: float) -> tuple[BatchLoss, BatchPredict]:
    """``(train_loss, predict)`` of a :class:`~glt.train.sources.Neighbourhoods` source:
    :func:`la_loss` on a batch's seeds, each sample on sets generated for the batch."""
    if samples < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")

    def predict(model: nn.Module, batch: MiniBatch) -> Tensor:
        return model(draw(batch.node), batch.graph)[:batch.batch_size]

    def train_loss(model: nn.Module, batch: MiniBatch) -> Tensor:
        return la_loss(lambda: predict(model, batch), slice(None), batch.y, samples, lam,
                       temperature)
    return train_loss, predict


def la_full_predict(draw: Callable[[Tensor], list[Tensor]]) -> Predict:
    """Logits ``[N, C]`` of an LA model over the whole graph, its inputs from
    ``draw(nodes)`` (:func:`batch_augmentation`) for every node: the
    ``full_predict`` of :class:`~glt.train.sources.Neighbourhoods` (every
    neighbour, as the LA-GNN code's layer-wise inference on ogbn-products)."""
    def predict(model: nn.Module, data: NodeDataset) -> Tensor:
        return model(draw(torch.arange(data.num_nodes, device=data.y.device)), data.graph)
    return predict


def selection_gcn(num_features: int, num_classes: int, init: str = "lagnn") -> GCN:
    """The 2-layer, 32-hidden GCN that scores generators in :func:`pretrain_generator`,
    initialised as the LA-GNN code's (``"lagnn"``) or with Glorot weights."""
    if init not in INITS:
        raise ValueError(f"expected init one of {INITS}, got {init!r}")
    gcn = GCN(num_features, 32, num_classes, dropout=0.5)
    if init == "lagnn":
        for conv in gcn.convs:
            lagnn_init_(conv)
    return gcn


def train_node_logits(gcn: GCN, graph: CSRGraph, train: Tensor
                      ) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The logits of a 2-layer GCN (e.g. :func:`selection_gcn`) at the training
    nodes, computed from their 2-hop region alone.

    Returns ``(region [R], logits)`` with ``logits(x [R, F]) -> [num_train, C]``
    equal to ``gcn(x_full, graph)[train]`` for any ``x_full [N, F]`` whose rows
    ``region`` are ``x``: the same normalised adjacency and layers, dropout drawn
    on the rows that reach the training nodes only. ``train``: ``[N]`` mask.
    """
    first, second = gcn.convs
    adj = gcn_norm(graph, first.add_self_loops, first.improved)  # rows = targets
    seeds = train.nonzero().view(-1)

    def reach(nodes: Tensor) -> Tensor:
        start = adj.rowptr[nodes]
        _, pos = row_entries(nodes, start, adj.rowptr[nodes + 1] - start)
        return torch.cat([nodes, adj.col[pos]]).unique()
    hop1 = reach(seeds)
    region = reach(hop1)
    to_hop1, to_seeds = adj.submatrix(hop1, region), adj.submatrix(seeds, hop1)

    def logits(x: Tensor) -> Tensor:  # A (drop(x) W) computed as (A drop(x)) W: fewer rows
        h = first.lin(spmm(to_hop1, dropout(x, gcn.dropout, gcn.training))) + first.bias
        h = dropout(F.relu(h), gcn.dropout, gcn.training)
        return spmm(to_seeds, second.lin(h)) + second.bias
    return region, logits


def pretrain_generator(cvae: CVAE, raw_x: Tensor, data: NodeDataset,
                       normalize: Callable[[Tensor], Tensor], epochs: int = 10,
                       batch_size: int = 64, lr: float = 0.01, num_models: int = 100,
                       warmup: int = 200, update_epochs: int = 20,
                       init: str = "lagnn", progress: bool = False) -> tuple[CVAE, int]:
    """Pretrain ``cvae`` and keep the generator the LA-GNN paper selects (its
    Algorithm 2): a GCN (32 hidden) is warmed up for 100 epochs on the real
    features; after every CVAE step, generated features are scored by the
    uncertainty the GCN shows on them over ``num_models`` dropout passes,
    ``U = NLL(mean of the passes' probabilities) - mean NLL`` on the training
    nodes. A step scoring above every earlier one (after ``warmup`` steps)
    becomes the selection, and the GCN trains ``update_epochs`` epochs on its
    features. Returns ``(selected generator, its step)`` (the final generator
    and step 0 when no step was selected). The GCN starts as the LA-GNN code's
    does (``init="lagnn"``, :func:`~glt.models.lagnn.lagnn_init_`) or from
    Glorot weights (``"glorot"``). The scoring passes and updates run on the
    training nodes' 2-hop region only (:func:`train_node_logits`), the only
    generated features they depend on. ``progress``: a progress bar over the
    CVAE's steps.
    """
    import copy

    gcn = selection_gcn(data.num_features, data.num_classes, init).to(raw_x.device)
    opt = torch.optim.Adam(gcn.parameters(), lr=0.01, weight_decay=5e-4)
    y = data.y[data.train_mask]
    region, train_logits = train_node_logits(gcn, data.graph, data.train_mask)
    condition = raw_x[region]

    def fit_gcn(logits: Callable[[], Tensor], steps: int) -> None:
        gcn.train()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(logits(), y).backward()
            opt.step()
    fit_gcn(lambda: gcn(data.x, data.graph)[data.train_mask], 100)
    best = {"score": -float("inf"), "cvae": None, "step": 0}

    def select(step: int) -> None:
        features = normalize(cvae.generate(condition))  # [R, F]
        gcn.train()  # dropout on: the passes differ
        with torch.no_grad():
            probs = [F.softmax(train_logits(features), dim=1) for _ in range(num_models)]
        nll = torch.stack([F.nll_loss(p.log(), y) for p in probs]).mean()
        score = float(F.nll_loss(torch.stack(probs).mean(0).log(), y) - nll)
        if score > best["score"]:
            best["score"] = score
            if step > warmup:
                best["cvae"], best["step"] = copy.deepcopy(cvae), step
                fit_gcn(lambda: train_logits(features), update_epochs)
    train_cvae(cvae, raw_x, data.graph, epochs, batch_size, lr, after_step=select,
               progress=progress)
    return (best["cvae"] or cvae), best["step"]
