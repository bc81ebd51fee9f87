"""Link prediction training on OGB's protocol (``examples/linkproppred``).

Every step encodes the whole training graph, scores a batch of training edges
against as many negative pairs with a binary cross-entropy, clips the gradient
norm of each part and steps Adam. Every ``eval_every`` epochs all validation
and test edges (positive and negative) are scored in chunks and ranked by the
set's OGB ``Evaluator`` (Hits@K); the run reports the test figure at its best
validation epoch, as OGB's ``Logger`` does. With a checkpoint folder the run
writes ``seed<N>.pt`` after every epoch and resumes from it exactly.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.link import LinkDataset
from glt.graph import CSRGraph
from glt.models.link import LinkModel, float_features
from glt.samplers import NegativeSampler
from glt.train.checkpoint import (copy_weights, data_fingerprint, resume_checkpoint, run_identity,
                                  save_checkpoint)
from glt.train.metrics import epoch_loss
from glt.train.selection import RunResult, Selection

SPLIT_KEYS = ("edge", "edge_neg")


@dataclass
class LinkTrainConfig:
    """Settings of one run (defaults: OGB's ogbl-ddi example).

    Attributes:
        epochs: passes over the training edges.
        batch_size: training edges per step (as many negatives are drawn).
        lr: Adam's learning rate.
        eval_every: epochs between evaluations (and the last epoch).
        eval_batch_size: pairs scored at once when evaluating.
        negatives: ``"exclude"``: pairs drawn uniformly among the non-edges
            (PyG's ``negative_sampling``, the ddi example); ``"uniform"``: any
            pair (the collab example's "trivial random sampling").
        clip: the gradient norm of the embeddings, the encoder and the
            predictor is each clipped to this.
        use_valid_as_input: validation edges join the graph when scoring the
            test edges (OGB's ``--use_valedges_as_input``).
        edge_weight: the encoder's graph carries the set's ``edge_weight``.
        seed: seeds the batches, the negatives and (by the caller) the weights.
    """

    epochs: int = 200
    batch_size: int = 64 * 1024
    lr: float = 0.005
    eval_every: int = 5
    eval_batch_size: int = 64 * 1024
    negatives: str = "exclude"
    clip: float = 1.0
    use_valid_as_input: bool = False
    edge_weight: bool = False
    seed: int = 0


def check_link_data(data: Any, evaluator: Any = None) -> None:
    """Refuse what the link trainer cannot use, naming it: a node set, a split
    without positive and negative evaluation edges, another set's evaluator."""
    if not isinstance(data, LinkDataset):
        name = getattr(data, "name", type(data).__name__)
        raise ValueError(f"{name} is not a link-prediction set (an ogbl-* set with edge "
                         "splits); node sets train with glt train gcn / sage / lagnn")
    for split, keys in (("train", ("edge",)), ("valid", SPLIT_KEYS), ("test", SPLIT_KEYS)):
        missing = [k for k in keys if k not in data.split.get(split, {})]
        if missing:
            raise ValueError(f"{data.name}: its {split} split has no {', '.join(missing)} "
                             "edges (expected OGB's get_edge_split() layout)")
    name = getattr(evaluator, "name", None)
    if evaluator is not None and name != data.name:
        raise ValueError(f"the evaluator is ogb's for {name}, not for {data.name}")


def graphs(data: LinkDataset, config: LinkTrainConfig) -> tuple[CSRGraph, CSRGraph]:
    """The encoder's graph for training and validation, and for test scoring
    (built once per setting and kept on ``data.graph``)."""
    def build() -> tuple[CSRGraph, CSRGraph]:
        graph = data.graph
        if config.edge_weight:
            if "edge_weight" not in data.edge_data:
                raise ValueError(f"{data.name} has no edge_weight for the edge_weight setting")
            graph = graph.with_edge_weight(data.edge_data["edge_weight"].view(-1).float())
        if not config.use_valid_as_input:
            return graph, graph
        valid = data.split["valid"]["edge"].to(graph.device)
        edges = torch.cat([graph.edge_index(), valid.t(), valid.flip(1).t()], dim=1)
        weight = None
        if config.edge_weight:  # validation edges carry their own weights in OGB's split
            extra = data.split["valid"].get("weight")
            extra = (torch.ones(valid.size(0), device=graph.device) if extra is None
                     else extra.view(-1).float().to(graph.device))
            weight = torch.cat([graph.edge_weight, extra, extra])
        return graph, CSRGraph.from_edge_index(edges, graph.num_nodes, edge_weight=weight)
    key = ("link_graphs", config.edge_weight, config.use_valid_as_input)
    return data.graph.cached(key, build)


def _hits(evaluator: Any, pos: Tensor, neg: Tensor) -> float:
    key = evaluator.eval_metric
    return float(evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})[key])


@torch.no_grad()
def evaluate_link(model: LinkModel, data: LinkDataset, evaluator: Any,
                  config: LinkTrainConfig) -> dict[str, float]:
    """``{"valid": Hits@K, "test": Hits@K}`` of every split edge, scored in chunks."""
    model.eval()
    train_graph, test_graph = graphs(data, config)
    out = {}
    x = float_features(data.x)  # once, not per encoding
    h = model.encode(x, train_graph)
    for split in ("valid", "test"):
        if split == "test" and test_graph is not train_graph:
            h = model.encode(x, test_graph)
        scores = [torch.cat([model.score(h, chunk.to(h.device)).cpu() for chunk in
                             data.split[split][key].split(config.eval_batch_size)])
                  for key in SPLIT_KEYS]
        out[split] = _hits(evaluator, *scores)
    return out


def _parts(model: LinkModel) -> list[list[nn.Parameter]]:
    parts = [list(model.encoder.parameters()), list(model.predictor.parameters())]
    if model.embedding is not None:
        parts.insert(0, [model.embedding.weight])
    return parts


def link_fingerprint(data: LinkDataset) -> str:
    """The fingerprint of a link set's graph, split and features in a checkpoint."""
    arrays = [data.graph.rowptr, data.graph.col] + [
        data.split[s][k] for s in ("train", "valid", "test") for k in sorted(data.split[s])]
    extra = [] if data.x is None else [data.x]
    return data_fingerprint(*arrays, *extra)


def _identity(model: LinkModel, data: LinkDataset, config: LinkTrainConfig,
              settings: Optional[dict[str, Any]]) -> dict[str, Any]:
    return run_identity(model, link_fingerprint(data), {**(settings or {}), **asdict(config)})


def train_link(model: LinkModel, data: LinkDataset, config: LinkTrainConfig,
               evaluator: Any = None, checkpoint: Optional[str] = None,
               progress: bool = False, settings: Optional[dict[str, Any]] = None,
               on_eval: Optional[Callable[[int, dict[str, float]], None]] = None
               ) -> RunResult:
    """Train ``model`` on ``data``'s training edges; returns the run's Hits@K
    (``val_acc`` / ``test_acc`` hold the set's metric) at its best validation
    evaluation, the curve of validation figures and the seconds spent.

    ``evaluator``: the set's ``ogb.linkproppred.Evaluator`` (default
    ``data.evaluator()``). ``checkpoint``: a folder for ``seed<N>.pt`` (the last
    weights, and the selected evaluation's as ``best_model``).
    ``settings``: the model's hyperparameters, part of the checkpoint's identity.
    ``on_eval(epoch, {"loss", "valid", "test"})`` sees each evaluation.
    """
    evaluator = evaluator if evaluator is not None else data.evaluator()
    check_link_data(data, evaluator)
    if config.negatives not in ("exclude", "uniform"):
        raise ValueError(f"expected negatives 'exclude' or 'uniform', got {config.negatives!r}")
    device = next(model.parameters()).device
    train_edges = data.split["train"]["edge"].to(device)
    train_graph, _ = graphs(data, config)
    sampler = NegativeSampler(data.graph) if config.negatives == "exclude" else None
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    state: dict[str, Any] = {"epoch": 0, "seconds": 0.0, "loss": [], "best": asdict(Selection())}
    path = os.path.join(checkpoint, f"seed{config.seed}.pt") if checkpoint else None
    identity = _identity(model, data, config, settings) if path else {}
    best_weights = None
    if path and os.path.exists(path):
        state, best_weights = resume_checkpoint(path, identity, model, opt, gen)
    best = Selection(**state["best"])
    x = float_features(data.x)  # once, not per batch
    while state["epoch"] < config.epochs:
        start = time.perf_counter()
        epoch = state["epoch"] = state["epoch"] + 1
        model.train()
        total, steps = 0.0, 0
        order = torch.randperm(train_edges.size(0), generator=gen)
        for chunk in tqdm(order.split(config.batch_size), desc=f"epoch {epoch}", leave=False,
                          disable=not progress):
            opt.zero_grad()
            h = model.encode(x, train_graph)
            pos = train_edges[chunk.to(device)]
            neg = (sampler.pairs(chunk.numel(), gen) if sampler is not None else
                   torch.randint(0, data.num_nodes, (chunk.numel(), 2), generator=gen))
            loss = (F.softplus(-model.score(h, pos)).mean()
                    + F.softplus(model.score(h, neg.to(device))).mean())
            loss.backward()
            for part in _parts(model):
                nn.utils.clip_grad_norm_(part, config.clip)
            opt.step()
            total, steps = total + float(loss.detach()), steps + 1
        state["loss"].append(epoch_loss(total, steps, epoch))
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            hits = evaluate_link(model, data, evaluator, config)
            best.offer(epoch, hits["valid"], lambda: hits["test"])
            if path and best.epoch == epoch:
                best_weights = copy_weights(model)
            if on_eval is not None:
                on_eval(epoch, {"loss": state["loss"][-1], **hits})
        state["seconds"] += time.perf_counter() - start
        state["best"] = asdict(best)
        if path:
            save_checkpoint(path, identity, model, opt, gen, state, best_model=best_weights)
    return best.result(config.seed, state["epoch"], state["seconds"])
