"""Link prediction training on OGB's protocol (``examples/linkproppred``).

Every step encodes the whole training graph, scores a batch of training edges
against as many negative pairs with a binary cross-entropy, clips the gradient
norm of each part (where the example does) and steps Adam. Every ``eval_every``
epochs all validation and test edges (positive and negative) are scored in
chunks and ranked by the set's OGB ``Evaluator``: Hits@K of the positive pairs
among the negative pairs, or (ogbl-citation2) the MRR of each source's target
among its own negative targets. The run reports the test figure at its best
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
from glt.models.gnn import float_features
from glt.models.link import LinkModel
from glt.samplers import NegativeSampler
from glt.train.args import CHOICES
from glt.train.checkpoint import (copy_weights, data_fingerprint, resume_checkpoint, run_identity,
                                  save_checkpoint)
from glt.train.metrics import epoch_loss
from glt.train.selection import RunResult, Selection

PAIR_KEYS = ("edge", "edge_neg")
SOURCE_KEYS = ("source_node", "target_node", "target_node_neg")
NEGATIVES = CHOICES["negatives"]


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
            pair (the collab example's "trivial random sampling");
            ``"per_source"``: each training pair's source with a uniform random
            target (the citation2 example; DGL's ``PerSourceUniform``).
        clip: the gradient norm of the embeddings, the encoder and the
            predictor is each clipped to this; None: not clipped.
        use_valid_as_input: validation edges join the graph when scoring the
            test edges (OGB's ``--use_valedges_as_input``): the encoder then reads
            the training and validation edges, each pair once in both directions
            and unweighted, as OGB's collab example builds that graph.
        edge_weight: the encoder's graph carries the set's ``edge_weight``.
        symmetric: the encoder's graph is the training graph with every edge
            in both directions, once (the citation2 example's ``to_symmetric()``
            of its directed citations).
        seed: seeds the batches, the negatives and (by the caller) the weights.
    """

    epochs: int = 200
    batch_size: int = 64 * 1024
    lr: float = 0.005
    eval_every: int = 5
    eval_batch_size: int = 64 * 1024
    negatives: str = "exclude"
    clip: Optional[float] = 1.0
    use_valid_as_input: bool = False
    edge_weight: bool = False
    symmetric: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.negatives not in NEGATIVES:
            raise ValueError(f"expected negatives {', '.join(map(repr, NEGATIVES))}, got "
                             f"{self.negatives!r}")
        if self.symmetric and self.edge_weight:
            raise ValueError("the symmetric setting keeps no edge weights; it cannot be "
                             "combined with edge_weight")


def check_link_data(data: Any, evaluator: Any = None) -> None:
    """Refuse what the link trainer cannot use, naming it: a node set, a split
    without positive and negative evaluation edges (pairs for Hits@K, sources'
    negative targets for an MRR evaluator) or with none of them, no training
    pairs, another set's evaluator."""
    if not isinstance(data, LinkDataset):
        name = getattr(data, "name", type(data).__name__)
        raise ValueError(f"{name} is not a link-prediction set (an ogbl-* set with edge "
                         "splits); node sets train with glt train gcn / sage / lagnn")
    name = getattr(evaluator, "name", None)
    if evaluator is not None and name != data.name:
        raise ValueError(f"the evaluator is ogb's for {name}, not for {data.name}")
    for split in ("valid", "test"):
        arrays = data.split.get(split, {})
        if evaluator is not None:
            keys = SOURCE_KEYS if evaluator.eval_metric == "mrr" else PAIR_KEYS
        else:
            keys = SOURCE_KEYS if "source_node" in arrays else PAIR_KEYS
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"{data.name}: its {split} split has no {', '.join(missing)} "
                             "edges (expected OGB's get_edge_split() layout)")
        empty = [k for k in keys if arrays[k].shape[0] == 0]
        if empty:
            raise ValueError(f"{data.name}: its {split} split has no rows in "
                             f"{', '.join(empty)}; its figure would be nan")
    if data.positives("train").shape[0] == 0:
        raise ValueError(f"{data.name}: its train split holds no pairs to train on")


def graphs(data: LinkDataset, config: LinkTrainConfig) -> tuple[CSRGraph, CSRGraph]:
    """The encoder's graph for training and validation, and for test scoring
    (built once per setting and kept on ``data.graph``)."""
    def build() -> tuple[CSRGraph, CSRGraph]:
        graph = data.graph
        if config.symmetric:
            graph = graph.to_undirected()
        if config.edge_weight:
            if "edge_weight" not in data.edge_data:
                raise ValueError(f"{data.name} has no edge_weight for the edge_weight setting")
            graph = graph.with_edge_weight(data.edge_data["edge_weight"].view(-1).float())
        if not config.use_valid_as_input:
            return graph, graph
        # as OGB's collab example builds it (SparseTensor.from_edge_index(...)
        # .to_symmetric()): the training and validation edges, every pair once in
        # both directions, unweighted
        valid = data.positives("valid").to(graph.device)
        edges = torch.cat([data.graph.edge_index(), valid.t()], dim=1)
        return graph, CSRGraph.from_edge_index(edges, graph.num_nodes).to_undirected()
    key = ("link_graphs", config.edge_weight, config.use_valid_as_input, config.symmetric)
    return data.graph.cached(key, build)


def _figure(evaluator: Any, pos: Tensor, neg: Tensor) -> float:
    """The evaluator's figure: Hits@K, or the mean of its per-source MRR list."""
    key = evaluator.eval_metric
    result = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
    return float(result[key]) if key in result else float(result[f"{key}_list"].mean())


def _split_scores(model: LinkModel, h: Tensor, arrays: dict[str, Tensor], chunk: int
                  ) -> tuple[Tensor, Tensor]:
    """The scores of a split's positives ``[M]`` and negatives: ``[M']`` of the
    negative pairs, or ``[M, K]`` of each source with its ``K`` negative targets."""
    def scores(pairs: Tensor) -> Tensor:
        return torch.cat([model.score(h, part.to(h.device)).cpu() for part in pairs.split(chunk)])
    if "edge" in arrays:
        return scores(arrays["edge"]), scores(arrays["edge_neg"])
    source, target_neg = arrays["source_node"], arrays["target_node_neg"]
    pos = scores(torch.stack([source, arrays["target_node"]], dim=1))
    rows = max(1, chunk // target_neg.size(1))  # chunk pairs at a time, never all M * K
    neg = torch.cat([scores(torch.stack([s.repeat_interleave(t.size(1)), t.reshape(-1)], 1))
                     .view(t.shape) for s, t in zip(source.split(rows), target_neg.split(rows))])
    return pos, neg


@torch.no_grad()
def evaluate_link(model: LinkModel, data: LinkDataset, evaluator: Any,
                  config: LinkTrainConfig) -> dict[str, float]:
    """``{"valid": figure, "test": figure}``, the evaluator's metric (Hits@K or
    MRR) of every split edge, scored in chunks of ``eval_batch_size`` pairs."""
    model.eval()
    train_graph, test_graph = graphs(data, config)
    out = {}
    x = float_features(data.x)  # once, not per encoding
    h = model.encode(x, train_graph)
    for split in ("valid", "test"):
        if split == "test" and test_graph is not train_graph:
            h = model.encode(x, test_graph)
        out[split] = _figure(evaluator, *_split_scores(model, h, data.split[split],
                                                        config.eval_batch_size))
    return out


def _negatives(kind: str, sampler: Optional[NegativeSampler], pos: Tensor, num_nodes: int,
               gen: torch.Generator) -> Tensor:
    """``[B, 2]`` negative pairs for the ``[B, 2]`` positives ``pos``."""
    if sampler is not None:
        return sampler.pairs(pos.size(0), gen)
    if kind == "per_source":
        targets = torch.randint(0, num_nodes, (pos.size(0),), generator=gen)
        return torch.stack([pos[:, 0], targets.to(pos.device)], dim=1)
    return torch.randint(0, num_nodes, (pos.size(0), 2), generator=gen)


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
    """Train ``model`` on ``data``'s training edges; returns the run's figures
    (``val_acc`` / ``test_acc`` hold the set's metric, Hits@K or MRR) at its best validation
    evaluation, the curve of validation figures and the seconds spent.

    ``evaluator``: the set's ``ogb.linkproppred.Evaluator`` (default
    ``data.evaluator()``). ``checkpoint``: a folder for ``seed<N>.pt`` (the last
    weights, and the selected evaluation's as ``best_model``).
    ``settings``: the model's hyperparameters, part of the checkpoint's identity.
    ``on_eval(epoch, {"loss", "valid", "test"})`` sees each evaluation.
    """
    evaluator = evaluator if evaluator is not None else data.evaluator()
    check_link_data(data, evaluator)
    device = next(model.parameters()).device
    train_edges = data.positives("train").to(device)
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
            neg = _negatives(config.negatives, sampler, pos, data.num_nodes, gen)
            loss = (F.softplus(-model.score(h, pos)).mean()
                    + F.softplus(model.score(h, neg.to(device))).mean())
            loss.backward()
            for part in _parts(model) if config.clip is not None else ():
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
