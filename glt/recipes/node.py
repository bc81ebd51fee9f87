"""Node classification on Planetoid with the papers' settings: GCN (Kipf &
Welling 2017), GAT (Velickovic et al. 2018), GraphSAGE with GCN's optimiser
settings; full-batch, best validation epoch, mean and std over the runs."""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor, nn

from glt.datasets import PLANETOID_NAMES, NodeDataset, load_planetoid, row_normalize
from glt.datasets import sparse_features
from glt.models import GAT, GCN, GraphSAGE
from glt.recipes.base import Context, Recipe, record
from glt.recipes.report import RunRecord, RunReport
from glt.train.checkpoint import data_fingerprint, restore_model
from glt.train.node import NodeTrainConfig, Score, repeat_runs, train_nodes
from glt.train.sources import BatchSource, FullGraph, data_arrays

# model -> settings; None means "not used by this model"
PRESETS: dict[str, dict[str, Any]] = {
    "gcn": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                heads=None),
    "gat": dict(hidden=8, dropout=0.6, lr=0.005, weight_decay=5e-4, epochs=1000, patience=100,
                heads=8),
    "sage": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                 heads=None),
}
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
        return lambda: GAT(in_channels, hidden, num_classes, layers, heads=settings["heads"],
                           dropout=dropout)
    raise ValueError(f"expected model to be one of {sorted(PRESETS)}, got {name!r}")


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


def load_node_set(name: str, root: Optional[str] = None, device: Union[str, torch.device] = "cpu"
                  ) -> tuple[NodeDataset, Tensor]:
    """A Planetoid set as the papers (and ``glt train gcn|gat|sage``) train on it,
    on ``device``: row-normalised features (sparse on CPU: bag of words); and its
    raw features."""
    data = load_planetoid(name, root).to(device)
    raw_x = data.x
    data.x = row_normalize(raw_x)
    if data.x.device.type == "cpu":
        data.x = sparse_features(data.x)
    return data, raw_x


def model_from_checkpoint(path: str, data: NodeDataset, weights: str = "best") -> nn.Module:
    """The model of a ``glt train gcn|gat|sage --checkpoint`` run (the file
    ``seed<N>.pt`` in its folder) on the set it trained on (``data``: as
    :func:`load_node_set` gives it), with the weights of its best validation
    epoch (``weights="best"``: those of the run's reported figures) or of its
    last finished epoch (``"last"``); ``model(data.x, data.graph)`` gives the
    logits ``[N, C]``. Raises ``ValueError`` as
    :func:`~glt.train.checkpoint.restore_model` does."""
    def maker(name: str) -> Callable[[dict[str, Any]], nn.Module]:
        return lambda settings: model_factory(name, data.num_features, data.num_classes,
                                              settings)()
    return restore_model(path, data_fingerprint(*data_arrays(data)),
                         {cls: maker(name) for cls, name in MODEL_CLASSES.items()}, weights)


class NodeRecipe(Recipe):
    name = "node"
    description = ("Train GCN / GraphSAGE / GAT on a Planetoid set (default: Cora, bundled) "
                   "and report test accuracy at the best validation epoch over --runs.")
    presets = PRESETS
    amp = True

    def __init__(self, model: Optional[str] = None) -> None:
        if model is not None:
            self.name, self.lead = model, ("--model", model)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", choices=sorted(PRESETS), default="gcn")
        parser.add_argument("--dataset", choices=sorted(PLANETOID_NAMES), default="cora")
        parser.add_argument("--root", default=None, help="data folder (default: bundled "
                            "Cora, else $GLT_DATA or ~/.cache/glt)")

    def preset_name(self, args: argparse.Namespace) -> str:
        return args.preset or args.model

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        data, _ = load_node_set(args.dataset, args.root, ctx.device)
        make = model_factory(args.model, data.num_features, data.num_classes, s)
        runs = node_runs(ctx, make, FullGraph(data), data, train_config(s, ties="loss"))
        return ctx.report(args.model, data.name, "acc", runs)
