"""Node classification with the papers' settings: on Planetoid, GCN (Kipf &
Welling 2017), GAT (Velickovic et al. 2018), GraphSAGE with GCN's optimiser
settings; on ogbn-arxiv, ogbn-products and ogbn-proteins (112 binary tasks, ROC-AUC),
OGB's example models (the leaderboard entries GCN and GraphSAGE) scored by OGB's
Evaluator. Best validation epoch, mean and std over the runs."""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor, nn

from glt.datasets import PLANETOID_NAMES, NodeDataset, load_ogb, load_planetoid, row_normalize
from glt.datasets import sparse_features
from glt.datasets.planetoid import SPLITS
from glt.models import GAT, GCN, GraphSAGE
from glt.ops import scatter
from glt.recipes.base import Context, Recipe, record
from glt.recipes.report import RunRecord, RunReport
from glt.train.args import data_folder, non_negative_int
from glt.train.checkpoint import data_fingerprint, restore_model
from glt.train.node import NodeTrainConfig, Score, repeat_runs, train_nodes
from glt.train.metrics import dataset_score
from glt.train.sources import (BatchSource, FullGraph, Neighbourhoods, data_arrays,
                               full_graph_predict)

# model -> settings; None means "not used by this model"
PRESETS: dict[str, dict[str, Any]] = {
    "gcn": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                heads=None),
    "gat": dict(hidden=8, dropout=0.6, lr=0.005, weight_decay=5e-4, epochs=1000, patience=100,
                heads=8),
    "sage": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                 heads=None),
}
MODELS = ("gat", "gcn", "sage")
# OGB's examples: ogbn-arxiv full-batch on the symmetrised graph (conv -> BatchNorm ->
# ReLU -> dropout, Adam without weight decay, every epoch evaluated); ogbn-products
# GraphSAGE on sampled neighbourhoods (PyG's NeighborSampler example the leaderboard
# lists), every neighbour at evaluation, from the 6th epoch on
_ARXIV = dict(hidden=256, dropout=0.5, lr=0.01, weight_decay=0.0, epochs=500, patience=None,
              heads=None, num_layers=3, batch_norm=True, input_dropout=False)
# ogbn-proteins: full-batch on node features averaged from the 8 edge features of each
# node's incoming edges, 112 binary tasks, no dropout, every 5th epoch evaluated
_PROTEINS = dict(_ARXIV, dropout=0.0, epochs=1000, eval_every=5, batch_norm=False)
PRESETS.update({
    "gcn/ogbn-arxiv": _ARXIV, "sage/ogbn-arxiv": _ARXIV,
    "gcn/ogbn-proteins": _PROTEINS, "sage/ogbn-proteins": _PROTEINS,
    "sage/ogbn-products": dict(_ARXIV, lr=0.003, epochs=20, batch_norm=False, mode="mini",
                               fanouts=[15, 10, 5], batch_size=1024, evaluate="full",
                               eval_after=5),
})
OGB_NODE_SETS = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins")
MODEL_CLASSES = {"GCN": "gcn", "GAT": "gat", "GraphSAGE": "sage"}
TRAIN_KEYS = ("epochs", "lr", "weight_decay", "patience", "eval_every", "eval_after",
              "optimizer")


def model_factory(name: str, in_channels: int, num_classes: int,
                  settings: dict[str, Any]) -> Callable[[], nn.Module]:
    """A constructor of a fresh model ``name`` (gcn, gat, sage) with ``settings``."""
    hidden, dropout = settings["hidden"], settings["dropout"]
    layers = settings.get("num_layers", 2)
    ogb = dict(batch_norm=settings.get("batch_norm", False),  # OGB's example layout
               input_dropout=settings.get("input_dropout", True))
    if name == "gcn":
        return lambda: GCN(in_channels, hidden, num_classes, layers, dropout=dropout, **ogb)
    if name == "sage":
        return lambda: GraphSAGE(in_channels, hidden, num_classes, layers, dropout=dropout,
                                 **ogb)
    if name == "gat":
        if ogb["batch_norm"] or not ogb["input_dropout"]:
            raise ValueError("--batch-norm and --no-input-dropout (OGB's layout) apply to GCN "
                             "and GraphSAGE, not GAT")
        return lambda: GAT(in_channels, hidden, num_classes, layers, heads=settings["heads"],
                           dropout=dropout)
    raise ValueError(f"expected model to be one of {MODELS}, got {name!r}")


def train_config(settings: dict[str, Any], ties: str = "first", **fixed: Any
                 ) -> dict[str, Any]:
    """The :class:`~glt.train.node.NodeTrainConfig` fields found in ``settings``."""
    return {"ties": ties, **{k: settings[k] for k in TRAIN_KEYS if k in settings}, **fixed}


def node_runs(ctx: Context, make: Callable[[], nn.Module], source: BatchSource,
              data: NodeDataset, config: dict[str, Any], metric: str = "acc",
              score: Optional[Score] = None, checkpoint: Optional[str] = None,
              settings: Optional[dict[str, Any]] = None) -> list[RunRecord]:
    """:func:`~glt.train.node.train_nodes` over the context's seeds, each a fresh
    ``make()`` on the data's device with ``config`` (and ``--amp``); checkpoints
    in ``checkpoint`` (default ``--checkpoint``) record ``settings`` (default the
    context's: those ``make`` builds from)."""
    amp = bool(getattr(ctx.args, "amp", False))
    folder = checkpoint if checkpoint is not None else ctx.args.checkpoint
    recorded = ctx.settings if settings is None else settings

    def train(model: nn.Module, seed: int) -> Any:
        return train_nodes(model, source, data, NodeTrainConfig(**config, amp=amp, seed=seed),
                           score, folder, ctx.shard, ctx.progress, recorded)
    results = repeat_runs(lambda: make().to(data.y.device), train, ctx.args.runs,
                          ctx.args.seed, ctx.progress)
    return [record(r, metric) for r in results]


def load_node_set(name: str, root: Optional[str] = None, device: Union[str, torch.device] = "cpu",
                  split: str = "public", split_seed: int = 0) -> tuple[NodeDataset, Tensor]:
    """A set as the papers (and ``glt train gcn|gat|sage``) train on it, on
    ``device``, and its raw features: a Planetoid set with row-normalised
    features (sparse on CPU: bag of words) and its public split, or PyG's
    ``"full"`` or ``"random"`` one (:func:`~glt.datasets.load_planetoid`, the
    random one drawn with ``split_seed``); ogbn-arxiv with its citations
    symmetrised (OGB's examples); ogbn-products as released."""
    if name in OGB_NODE_SETS and split != "public":
        raise ValueError(f"{name} comes with OGB's split; --split {split} applies to the "
                         "Planetoid sets")
    if name in OGB_NODE_SETS:
        data = load_ogb(name, root)
        if name == "ogbn-arxiv":  # directed citations: trained on the symmetrised graph
            data.graph = data.graph.to_undirected()
        if name == "ogbn-proteins":  # no node features: the mean of the incoming edges'
            data.x = edge_mean_features(data)
        data = data.to(device)
        return data, data.x
    data = load_planetoid(name, root, split=split, seed=split_seed).to(device)
    raw_x = data.x
    data.x = row_normalize(raw_x)
    if data.x.device.type == "cpu":
        data.x = sparse_features(data.x)
    return data, raw_x


def edge_mean_features(data: NodeDataset) -> Tensor:
    """``[N, D]`` node features: each node's mean of the ``edge_attr [E, D]`` of its
    incoming edges (0 without any), as OGB's ogbn-proteins example makes them."""
    if data.edge_attr is None:
        raise ValueError(f"{data.name} has no edge features to average into node features")
    return scatter(data.edge_attr.float(), data.graph.col, data.num_nodes, reduce="mean")


def model_from_checkpoint(path: str, data: NodeDataset, weights: str = "best") -> nn.Module:
    """The model of a ``glt train gcn|gat|sage --checkpoint`` run (the file
    ``seed<N>.pt`` in its folder) on the set it trained on (``data``: as
    :func:`load_node_set` gives it), with the weights of its best validation
    epoch (``weights="best"``: those of the run's reported figures) or of its
    last finished epoch (``"last"``); ``model(data.x, data.graph)`` gives the
    logits ``[N, C]``. Raises ``ValueError`` as
    :func:`~glt.train.checkpoint.restore_model` does."""
    def maker(name: str) -> Callable[[dict[str, Any]], nn.Module]:
        return lambda settings: model_factory(name, data.num_features, data.num_outputs,
                                              settings)()
    return restore_model(path, data_fingerprint(*data_arrays(data)),
                         {cls: maker(name) for cls, name in MODEL_CLASSES.items()}, weights)


class NodeRecipe(Recipe):
    name = "node"
    description = ("Train GCN / GraphSAGE / GAT on a Planetoid set (default: Cora, bundled), "
                   "or OGB's GCN / GraphSAGE on ogbn-arxiv, ogbn-products or ogbn-proteins, "
                   "and report the test accuracy (proteins: ROC-AUC) at the best validation "
                   "epoch over --runs.")
    presets = PRESETS
    amp = True

    def __init__(self, model: Optional[str] = None) -> None:
        if model is not None:
            self.name, self.lead = model, ("--model", model)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", choices=MODELS, default="gcn")
        parser.add_argument("--dataset", choices=sorted(PLANETOID_NAMES) + list(OGB_NODE_SETS),
                            default="cora")
        parser.add_argument("--root", default=None, type=data_folder, help="data folder "
                            "(default: bundled Cora, else $GLT_DATA or ~/.cache/glt)")
        add_split_arguments(parser)

    def preset_name(self, args: argparse.Namespace) -> str:
        if args.preset or args.dataset not in OGB_NODE_SETS:
            return args.preset or args.model
        name = f"{args.model}/{args.dataset}"
        if name not in PRESETS:
            raise ValueError(f"no {args.model.upper()} preset for {args.dataset} (OGB's "
                             f"examples train GCN and GraphSAGE); presets exist for "
                             f"{', '.join(k for k in PRESETS if '/' in k)}")
        return name

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        data, _ = load_node_set(args.dataset, args.root, ctx.device, args.split, args.split_seed)
        make = model_factory(args.model, data.num_features, data.num_outputs, s)
        metric = data.info.metric if args.dataset in OGB_NODE_SETS else "acc"
        if args.dataset in OGB_NODE_SETS:  # OGB's logger: the first best validation epoch
            runs = node_runs(ctx, make, node_source(data, s), data, train_config(s), metric,
                             score=dataset_score(data))
        else:
            runs = node_runs(ctx, make, node_source(data, s), data, train_config(s, ties="loss"))
        return ctx.report(args.model, data.name, metric, runs, **split_record(args))


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """``--split`` (a Planetoid set's public split, or PyG's full or random one) and
    ``--split-seed`` (the random split's draw)."""
    parser.add_argument("--split", choices=SPLITS, default="public", help="Planetoid sets: "
                        "the public split (default), every other node training (full), or "
                        "20 random nodes per class training, 500 validating, 1000 testing "
                        "(random)")
    parser.add_argument("--split-seed", type=non_negative_int, default=0, help="the random "
                        "split's seed (default 0)")


def split_record(args: argparse.Namespace) -> dict[str, Any]:
    """What a report records of a split other than the public one (nothing for it)."""
    if args.split == "public":
        return {}
    return {"split": args.split, **({"split_seed": args.split_seed}
                                    if args.split == "random" else {})}


def mini_batch_settings(settings: dict[str, Any]) -> tuple[list[int], int, bool]:
    """``(fanouts, batch_size, every neighbour at evaluation)`` of ``--mode mini``
    settings; raises ``ValueError`` naming the flags a preset without them needs."""
    missing = [f"--{k.replace('_', '-')}" for k in ("fanouts", "batch_size")
               if settings.get(k) is None]
    if missing:
        raise ValueError(f"--mode mini needs {' and '.join(missing)}")
    return list(settings["fanouts"]), settings["batch_size"], settings.get("evaluate") == "full"


def node_source(data: NodeDataset, settings: dict[str, Any]) -> BatchSource:
    """The whole graph per step, or with ``mode="mini"`` batches of ``batch_size``
    seeds with their sampled ``fanouts`` neighbourhoods (every neighbour at
    evaluation with ``evaluate="full"``)."""
    if settings.get("mode", "full") != "mini":
        return FullGraph(data)
    fanouts, batch_size, full = mini_batch_settings(settings)
    return Neighbourhoods(data, fanouts, batch_size,
                          full_predict=full_graph_predict if full else None)
