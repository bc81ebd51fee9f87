"""LargeGT (Dwivedi et al. 2023): token preparation, then repeated runs on
token batches, reported at the best validation epoch."""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import Tensor

from glt._unpickle import ARCHIVE_ERRORS, load_weights
from glt.datasets import NodeDataset, load_dataset, row_normalize
from glt.datasets.planetoid import default_root
from glt.datasets.registry import dataset_info
from glt.models.largegt import LargeGT, PaperLargeGT, TokenInputs
from glt.recipes.base import Context, Recipe
from glt.recipes.node import node_runs, train_config
from glt.recipes.report import RunReport
from glt.train.args import data_folder, existing_file
from glt.train.checkpoint import data_fingerprint, restore_model
from glt.train.metrics import dataset_score
from glt.train.sources import TokenBatches, token_arrays

_BASE = dict(num_tokens=100, batch_size=1024, hidden=256, global_dim=64, num_codes=4096,
             heads=2, lr=1e-3, weight_decay=0.0, epochs=100, dropout=0.1, attn_dropout=0.1,
             input_dropout=0.0, eval_every=1, eval_samples=1, token_encoder="mlp",
             node_queries=False, optimizer="adamw", stream_hops=False, layout="glt")
# settings of one layout only, with the value that means "not used" for the other
_GLT_ONLY = {"token_encoder": "mlp", "node_queries": False, "input_dropout": 0.0}
_PAPER_ONLY = ("norm", "local_dropout")
# the authors' model (PaperLargeGT) with their main.py's defaults: --ff_dropout 0.5 (their
# local module's dropout is 0.3), --attn_dropout 0, batch norm, Adam, 500 epochs
_PAPER = dict({k: v for k, v in _BASE.items() if k not in _GLT_ONLY}, layout="paper",
              dropout=0.5, attn_dropout=0.0, norm="batch", local_dropout=0.3, optimizer="adam",
              epochs=500)
# the LargeGT authors' runs (docs/03_reproduce.md of snap-research/LargeGT) for the
# large sets; Planetoid: a small-data setting measured on Cora (140 labels): one sampled
# node beside the target (more sampled tokens did not help there), heavy input dropout,
# one linear token map per hop, node-only queries, Adam with L2 as for GCN, and the class
# probabilities of 8 token draws averaged when scoring (one draw leaves about a point of
# accuracy to chance there)
PRESETS: dict[str, dict[str, Any]] = {
    "ogbn-products": dict(_BASE),
    "snap-patents": dict(_BASE, num_tokens=50, batch_size=2048, hidden=128),
    "ogbn-papers100M": dict(_BASE, hidden=512, global_dim=128, stream_hops=True),
    "ogbn-products-paper": dict(_PAPER),
    "snap-patents-paper": dict(_PAPER, num_tokens=50, batch_size=2048, hidden=128),
    "planetoid": dict(_BASE, num_tokens=2, batch_size=140, hidden=64, global_dim=32,
                      num_codes=64, lr=0.01, weight_decay=5e-4, epochs=600, dropout=0.5,
                      attn_dropout=0.2, input_dropout=0.9, eval_every=5, eval_samples=8,
                      token_encoder="per_hop", node_queries=True, optimizer="adam"),
}


def load_pos_enc(path: str, num_nodes: int) -> Tensor:
    """``[num_nodes, d]`` positional encoding (e.g. node2vec embeddings) from a
    ``.npy`` file or a ``.pt`` file holding one tensor (``torch.save``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no positional encoding file {path!r}")
    if not path.endswith(".npy"):
        pos = load_weights(path, "positional encoding file")
    else:
        try:
            pos = torch.from_numpy(np.load(path, allow_pickle=False))
        except ARCHIVE_ERRORS + (TypeError,) as err:  # numpy's own advice: allow_pickle
            raise ValueError(f"positional encoding file {path} is not a numeric .npy array "
                             "(a damaged file, or pickled objects, which glt never loads)"
                             ) from err
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.size(0) != num_nodes:
        shape = tuple(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ValueError(f"{path} should hold a [{num_nodes}, d] positional encoding (one "
                         f"row per node), got {shape}")
    if pos.is_complex():
        raise ValueError(f"{path} should hold finite real values, got complex numbers")
    pos = pos.float()
    if not torch.isfinite(pos).all():
        raise ValueError(f"{path} should hold finite real values, got NaN or infinity")
    return pos


def check_layout(settings: dict[str, Any]) -> str:
    """The settings' model layout (``glt``: :class:`LargeGT`, ``paper``:
    :class:`PaperLargeGT`); refuses settings the other layout alone has."""
    layout = settings.get("layout", "glt")
    if layout not in ("glt", "paper"):
        raise ValueError(f"expected layout 'glt' or 'paper', got {layout!r}")
    if layout == "paper":
        unused = [k for k, v in _GLT_ONLY.items() if settings.get(k, v) != v]
    else:
        unused = [k for k in _PAPER_ONLY if k in settings]
    if unused:
        raise ValueError(f"the {layout} layout does not use {', '.join(unused)} (given "
                         f"{', '.join(f'{k}={settings[k]}' for k in unused)}); the "
                         f"{'ogbn-products-paper preset' if layout == 'paper' else 'paper layout'}"
                         " has what the authors' model takes")
    return layout


class LargeGTRecipe(Recipe):
    name = "largegt"
    made = folders = ("hop_cache",)  # read where built, else built there
    description = "Train LargeGT (Dwivedi et al. 2023) on a node classification set."
    presets = PRESETS
    amp = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dataset", default="cora", help="any registered node set (cora, "
                            "ogbn-products, snap-patents, ogbn-papers100M, ...)")
        parser.add_argument("--root", default=None, type=data_folder)
        parser.add_argument("--pos-enc", default=None, type=existing_file,
                            help="a .npy or .pt file with a "
                            "[num_nodes, d] positional encoding (the authors use node2vec "
                            "embeddings) for the global module's queries and codebook")
        parser.add_argument("--hop-cache", default=None, help="folder for the [N, 3, F] hop "
                            "features, computed there in streamed blocks once and memory-mapped "
                            "afterwards (default: in memory; with stream_hops, "
                            "<root>/largegt_hops/<dataset>)")

    def preset_name(self, args: argparse.Namespace) -> str:
        """``--preset``, else the dataset's, else ``planetoid`` for the Planetoid sets."""
        if args.preset is not None or args.dataset in PRESETS:
            return args.preset or args.dataset
        if dataset_info(args.dataset).source == "planetoid":
            return "planetoid"
        raise ValueError(f"no LargeGT preset for {args.dataset!r}; pass --preset, one of "
                         f"{', '.join(PRESETS)}")

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        data = load_largegt_set(args.dataset, args.root, ctx.device)
        start = time.perf_counter()
        cache = args.hop_cache
        if cache is None and s["stream_hops"]:
            cache = os.path.join(args.root or default_root(), "largegt_hops", data.name)
        pos = None if args.pos_enc is None else load_pos_enc(args.pos_enc, data.num_nodes)
        inputs = token_inputs(data, s, cache, pos)
        prep = time.perf_counter() - start
        source = TokenBatches(data, inputs, s["batch_size"], eval_samples=s["eval_samples"])
        runs = node_runs(ctx, lambda: make_model(data, inputs, s), source, data,
                         train_config(s), score=dataset_score(data))
        return ctx.report("largegt", data.name, "acc", runs, token_seconds=prep,
                          pos_enc=args.pos_enc)


def load_largegt_set(name: str, root: Optional[str] = None,
                     device: Union[str, torch.device] = "cpu") -> NodeDataset:
    """A node set as ``glt train largegt`` trains on it, on ``device`` (Planetoid
    features row-normalised)."""
    data = load_dataset(name, root)
    if not isinstance(data, NodeDataset) or data.x is None or data.y.dim() != 1:
        raise ValueError(f"{name} is not a single-label node set with features")
    if data.info is not None and data.info.source == "planetoid":
        data.x = row_normalize(data.x)
    return data.to(device)


def token_inputs(data: NodeDataset, settings: dict[str, Any], cache: Optional[str] = None,
                 pos: Optional[Tensor] = None) -> TokenInputs:
    """The token inputs of ``settings`` (``num_tokens``, layout) over ``data``; hop
    features memory-mapped in the folder ``cache`` when given; ``pos [N, d]``."""
    return TokenInputs(data.graph, data.x, settings["num_tokens"], cache=cache, pos=pos,
                       with_nodes=check_layout(settings) == "paper")


def make_model(data: NodeDataset, inputs: TokenInputs, s: dict[str, Any]) -> torch.nn.Module:
    """A fresh :class:`LargeGT` or :class:`PaperLargeGT` (``s["layout"]``) of the
    settings ``s`` for ``data`` and the positional encoding of ``inputs``."""
    pos_dim = 0 if inputs.pos is None else inputs.pos.size(1)
    if check_layout(s) == "paper":  # norm and local_dropout: the paper presets' or the model's
        extra = {k: s[k] for k in _PAPER_ONLY if k in s}
        return PaperLargeGT(data.num_features, s["hidden"], data.num_classes, data.num_nodes,
                            s["heads"], s["global_dim"], s["num_codes"], dropout=s["dropout"],
                            attn_dropout=s["attn_dropout"], pos_dim=pos_dim, **extra)
    return LargeGT(data.num_features, s["hidden"], data.num_classes, s["heads"],
                   s["global_dim"], s["num_codes"], s["dropout"], s["attn_dropout"],
                   s["input_dropout"], s["token_encoder"], s["node_queries"], pos_dim)


def model_from_checkpoint(path: str, data: NodeDataset, inputs: TokenInputs,
                          weights: str = "best") -> torch.nn.Module:
    """The model of a ``glt train largegt --checkpoint`` run (the file
    ``seed<N>.pt`` in its folder) on the set it trained on (``data``: as
    :func:`load_largegt_set` gives it; ``inputs``: :func:`token_inputs` with the
    run's settings and positional encoding), with the weights of its best
    validation epoch (``weights="best"``: those of the run's reported figures)
    or of its last finished epoch (``"last"``); class log-probabilities of
    ``nodes`` from :func:`~glt.train.sources.predict_tokens`. Raises
    ``ValueError`` as :func:`~glt.train.checkpoint.restore_model` does."""
    def build(settings: dict[str, Any]) -> torch.nn.Module:
        return make_model(data, inputs, settings)
    return restore_model(path, data_fingerprint(*token_arrays(data, inputs)),
                         {"LargeGT": build, "PaperLargeGT": build}, weights)
