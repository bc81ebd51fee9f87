"""Local augmentation (LA-GNN, Liu et al. 2022): pretrain (or load) the CVAE
generator, then train LA-GCN / LA-GAT / LA-SAGE and, with ``--compare``, the
plain backbone with the same settings, side by side.

Planetoid sets train full-batch with the LA-GNN code's Planetoid settings;
ogbn-arxiv full-batch (GCN / SAGE, symmetrised graph) and ogbn-products in
mini-batches of sampled neighbourhoods (SAGE), scored by OGB's Evaluator."""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor, nn

from glt.datasets import PLANETOID_NAMES, NodeDataset, row_normalize
from glt.models.lagnn import CVAE, la_backbone, read_lagnn_code_generator, train_cvae
from glt.recipes.base import Context, Recipe
from glt.recipes.node import PRESETS as PLAIN_PRESETS
from glt.recipes.node import (add_split_arguments, load_node_set, mini_batch_settings,
                              model_factory, node_runs, node_source, split_record,
                              train_config)
from glt.recipes.report import RunReport
from glt.train import distributed
from glt.train.args import data_folder, existing_file
from glt.train.checkpoint import data_fingerprint, read_checkpoint, restore_model
from glt.train.lagnn import (augmentation, batch_augmentation, la_batch_objective,
                             la_full_predict, la_objective, pretrain_generator)
from glt.train.metrics import dataset_score
from glt.train.sources import BatchSource, FullGraph, Neighbourhoods, data_arrays

_CVAE = dict(cvae_epochs=10, cvae_batch=64, cvae_lr=0.01, cvae_steps=None, num_models=100,
             warmup=200, update_epochs=20, select=True)
# Planetoid: the LA-GNN code's semi.sh; its GCN layers' initialisation ("lagnn") and
# its LA-GAT's ELU slope 0.2
_PLANETOID = dict(epochs=2000, lr=0.01, hidden=8, num_inputs=2, samples=4, dropout=0.5,
                  lam=1.0, temperature=0.5, weight_decay=5e-4, heads=1, num_layers=2,
                  mode="full", init="glorot", batch_norm=False, input_dropout=True,
                  combine="concat", elu_alpha=None, **_CVAE)
_GCN = dict(_PLANETOID, init="lagnn")
_GAT = dict(_PLANETOID, epochs=1000, dropout=0.6, heads=4, elu_alpha=0.2)
# OGB: the LA-GNN code's OGB scripts (full.sh). Generators without selection, Adam
# at lr 1e-5 for 20 steps of 64 pairs (arxiv) or 10,000 steps of 8,192 (products),
# generated features used as decoded. arxiv: per input conv -> BatchNorm -> ReLU ->
# dropout, no input dropout, 2 samples (GCN) or 4 (SAGE); products: one GraphSAGE
# (no BatchNorm) on (x_hat + x) / 2, 4 samples. --compare trains OGB's example
# models (hidden 256) with the same training.
_OGB = dict(_PLANETOID, epochs=500, hidden=128, samples=2, num_layers=3, weight_decay=0.0,
            batch_norm=True, input_dropout=False, baseline_hidden=256,
            cvae_epochs=1, cvae_batch=64, cvae_lr=1e-5, cvae_steps=20, select=False)
# Validation and test nodes are scored with every neighbour (one pass over the
# whole graph: the code's layer-wise inference) from the 6th epoch on.
_PRODUCTS = dict(_OGB, epochs=20, hidden=256, lr=0.003, samples=4, batch_norm=False,
                 combine="mean", mode="mini", fanouts=[15, 10, 5], batch_size=1024,
                 cvae_batch=8192, cvae_steps=10_000, evaluate="full", eval_after=5)
# "model/dataset" -> settings (num_inputs = the LA-GNN code's --concat generated sets
# + the features themselves)
PRESETS: dict[str, dict[str, Any]] = {
    "gcn/cora": _GCN, "gcn/citeseer": _GCN,
    "gcn/pubmed": dict(_GCN, epochs=300, hidden=4, num_inputs=4, lr=0.02),
    "gcn/ogbn-arxiv": _OGB,
    "gat/cora": _GAT, "gat/citeseer": _GAT, "gat/pubmed": dict(_GAT, num_inputs=4, heads=2),
    "sage/cora": _PLANETOID, "sage/citeseer": _PLANETOID,
    "sage/pubmed": dict(_PLANETOID, epochs=300, hidden=4, num_inputs=4, lr=0.02),
    "sage/ogbn-arxiv": dict(_OGB, samples=4), "sage/ogbn-products": _PRODUCTS,
}

# the OGB sets of the LA-GNN code's single-label presets (not ogbn-proteins' 112 tasks)
OGB_SETS = ("ogbn-arxiv", "ogbn-products")


def load_la_set(name: str, root: Optional[str] = None,
                device: Union[str, torch.device] = "cpu", split: str = "public",
                split_seed: int = 0) -> tuple[NodeDataset, Tensor, Callable[[Tensor], Tensor]]:
    """A set as ``glt train lagnn`` trains on it, on ``device``: ``(data with the
    model's features, the raw features the generator is conditioned on and
    decodes, the normalisation of a generated set)``; the data as
    :func:`~glt.recipes.node.load_node_set` gives it, generated sets
    row-normalised as the features on a Planetoid set and used as decoded on OGB's."""
    data, raw_x = load_node_set(name, root, device, split, split_seed)
    return data, raw_x, (lambda x: x) if name in OGB_SETS else row_normalize


def model_from_checkpoint(path: str, data: NodeDataset, weights: str = "best") -> nn.Module:
    """The LA model of a ``glt train lagnn --checkpoint`` run (the file
    ``seed<N>.pt`` in its folder; the plain backbone of ``--compare`` is under
    ``backbone/``, read by :func:`glt.recipes.node.model_from_checkpoint`) on
    the set it trained on (``data``: as :func:`load_la_set` gives it), with the
    weights of its best validation epoch (``"best"``) or of its last finished
    epoch (``"last"``); LA-GCN, LA-GAT or LA-SAGE, whichever backbone's
    parameters the file holds. ``model(inputs, data.graph)`` gives the logits
    ``[N, C]``, ``inputs`` being the features and ``model.num_inputs - 1``
    generated sets, as ``augmentation(generator, raw_x, data.x,
    model.num_inputs, normalize)()`` draws them (:mod:`glt.train.lagnn`).
    Raises ``ValueError`` as :func:`~glt.train.checkpoint.restore_model` does."""
    checkpoint = read_checkpoint(path)
    identity = checkpoint.get("identity")
    shapes = identity.get("shapes") if isinstance(identity, dict) else None

    def maker(settings: dict[str, Any]) -> Optional[nn.Module]:
        for kind in ("gcn", "gat", "sage"):  # the backbone whose parameters the file holds
            try:
                model = _make(kind, data, settings)
            except ValueError:  # settings of another backbone (e.g. GCN's initialisation)
                continue
            if {k: list(v.shape) for k, v in model.state_dict().items()} == shapes:
                return model
        return None
    return restore_model(path, data_fingerprint(*data_arrays(data)),
                         {"LAClassifier": maker, "LAMean": maker}, weights, checkpoint)


def _make(kind: str, data: NodeDataset, s: dict[str, Any]) -> nn.Module:
    """A fresh LA model with backbone ``kind`` and the settings ``s`` for ``data``."""
    return la_backbone(kind, data.num_features, s["hidden"], data.num_classes, s["num_inputs"],
                       s["dropout"], s["heads"], s["num_layers"], init=s["init"],
                       elu_alpha=s["elu_alpha"], batch_norm=s["batch_norm"],
                       input_dropout=s["input_dropout"], combine=s["combine"])


def _generator(ctx: Context, data: NodeDataset, raw_x: Tensor,
               normalize: Callable[[Tensor], Tensor]) -> CVAE:
    """The generator from ``--lagnn-generator`` or ``--generator``, else pretrained
    (by rank 0 under torchrun, which hands its weights to the other ranks) and
    saved to ``--generator``."""
    args, s, device = ctx.args, ctx.settings, ctx.device
    if args.lagnn_generator or (args.generator and os.path.exists(args.generator)):
        path = args.lagnn_generator or args.generator
        cvae = (read_lagnn_code_generator(path, map_location=str(device))
                if args.lagnn_generator else CVAE.load(path, map_location=device))
        if cvae.num_features != raw_x.size(1):
            raise ValueError(f"the generator in {path} was trained on "
                             f"{cvae.num_features} features; {data.name} has {raw_x.size(1)}")
        if args.lagnn_generator and cvae.variant == "ogb":  # generate as the LA-GNN code
            cvae.set_generation_statistics(raw_x)
        return cvae
    torch.manual_seed(args.seed)
    variant = "ogb" if args.dataset in OGB_SETS else "planetoid"
    cvae = CVAE(raw_x.size(1), variant=variant).to(device)
    if ctx.shard.is_main and not s["select"]:
        train_cvae(cvae, raw_x, data.graph, s["cvae_epochs"], s["cvae_batch"], s["cvae_lr"],
                   max_steps=s["cvae_steps"], progress=ctx.progress)
        if variant == "ogb":  # generate as the LA-GNN code: batch statistics of all nodes
            cvae.set_generation_statistics(raw_x)
    elif ctx.shard.is_main:
        cvae, step = pretrain_generator(cvae, raw_x, data, normalize, s["cvae_epochs"],
                                        s["cvae_batch"], s["cvae_lr"], s["num_models"],
                                        s["warmup"], s["update_epochs"], progress=ctx.progress)
        if ctx.progress:
            print(f"generator selected at step {step}", flush=True)
    distributed.broadcast_module(cvae, ctx.shard)  # the other ranks take rank 0's generator
    if args.generator and ctx.shard.is_main:
        cvae.save(args.generator)
    return cvae


class LAGNNRecipe(Recipe):
    name = "lagnn"
    description = ("Train LA-GCN / LA-GAT / LA-SAGE (local augmentation, Liu et al. 2022) on "
                   "a Planetoid or OGB set.")
    presets = PRESETS
    amp = True
    made = ("generator",)  # pretrained, then saved there

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", choices=["gcn", "gat", "sage"], default="gcn")
        parser.add_argument("--dataset", choices=sorted(PLANETOID_NAMES) + list(OGB_SETS),
                            default="cora")
        parser.add_argument("--root", default=None, type=data_folder)
        parser.add_argument("--generator", default=None, help="load the CVAE from this file "
                            "if it exists, else pretrain and save it there")
        parser.add_argument("--lagnn-generator", default=None, metavar="FILE",
                            type=existing_file, help="use a "
                            "generator saved by the LA-GNN code (its Citation/model/cora.pkl "
                            "or OGB/model/arxiv.pkl) instead of pretraining one")
        parser.add_argument("--compare", action="store_true", help="also train the plain "
                            "backbone with its paper settings")
        add_split_arguments(parser)

    def preset_name(self, args: argparse.Namespace) -> str:
        name = args.preset or f"{args.model}/{args.dataset}"
        if name not in PRESETS:
            raise ValueError(f"no LA-{args.model.upper()} preset for {args.dataset}; presets "
                             f"exist for {', '.join(PRESETS)}")
        return name

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        if args.lagnn_generator and args.generator:
            raise ValueError("give --generator (glt's generator file) or --lagnn-generator "
                             "(the LA-GNN code's), not both")
        if s["init"] != PRESETS[ctx.preset]["init"] and args.model != "gcn":
            raise ValueError(f"--init {s['init']} applies to LA-GCN only, not {args.model}")
        if ctx.shard.active and s["mode"] != "mini":
            raise ValueError(f"the {args.dataset} preset trains full-batch, which is not split "
                             "across ranks: run it without torchrun (data-parallel runs need "
                             "a mini-batch preset, e.g. ogbn-products)")
        if s["mode"] == "mini":
            mini_batch_settings(s)  # named before the generator's pretraining
        data, raw_x, normalize = load_la_set(args.dataset, args.root, ctx.device, args.split,
                                             args.split_seed)
        start = time.perf_counter()
        cvae = _generator(ctx, data, raw_x, normalize)
        cvae_seconds = time.perf_counter() - start
        score = dataset_score(data)
        la, plain = self._sources(ctx, cvae, data, raw_x, normalize)
        ties = "first" if s["mode"] == "mini" else "loss"
        # the LA-GNN code selects Planetoid runs by validation loss
        select = "acc" if args.dataset in OGB_SETS else "loss"

        runs = node_runs(ctx, lambda: _make(args.model, data, s), la, data,
                         train_config(s, ties, select=select), score=score)
        generator = {"file": args.lagnn_generator or args.generator,
                     "format": "lagnn-code" if args.lagnn_generator else "glt"}
        report = ctx.report(f"la-{args.model}", data.name, "acc", runs,
                            cvae_seconds=cvae_seconds, generator=generator, **split_record(args))
        if args.compare:  # every rank trains the backbone too
            if args.dataset in OGB_SETS:  # OGB's example model, the same training
                base = dict(s, patience=None, hidden=s["baseline_hidden"])
                config = train_config(base, ties, select="acc")
            else:
                base, plain = dict(PLAIN_PRESETS[args.model]), FullGraph(data)
                config = train_config(base, "loss")
            folder = args.checkpoint and os.path.join(args.checkpoint, "backbone")
            base_runs = node_runs(ctx, model_factory(args.model, data.num_features,
                                                     data.num_classes, base),
                                  plain, data, config, score=score, checkpoint=folder or None,
                                  settings=base)
            backbone = ctx.report(args.model, data.name, "acc", base_runs)
            backbone.settings = base
            report.extra["backbone"] = backbone.to_dict()
            if ctx.shard.is_main:  # a result, printed as the main summary is
                print(backbone.summary(), flush=True)
        return report

    @staticmethod
    def _sources(ctx: Context, cvae: CVAE, data: NodeDataset, raw_x: Tensor,
                 normalize: Callable[[Tensor], Tensor]) -> tuple[BatchSource, BatchSource]:
        """The LA model's batch source and the plain backbone's."""
        s = ctx.settings
        if s["mode"] == "mini":
            draw = batch_augmentation(cvae, raw_x, data.x, s["num_inputs"], normalize)
            loss, predict = la_batch_objective(draw, s["samples"], s["lam"], s["temperature"])
            fanouts, batch_size, full = mini_batch_settings(s)
            return (Neighbourhoods(data, fanouts, batch_size, loss, predict,
                                   la_full_predict(draw) if full else None),
                    node_source(data, s))
        full_draw = augmentation(cvae, raw_x, data.x, s["num_inputs"], normalize)
        loss, predict = la_objective(full_draw, s["samples"], s["lam"], s["temperature"])
        return FullGraph(data, loss, predict), node_source(data, s)
