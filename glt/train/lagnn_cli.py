"""Command line for local augmentation (``scripts/train_lagnn.py``): pretrain (or
load) the CVAE generator, then train LA-GCN / LA-GAT / LA-SAGE and, with
``--compare``, the plain backbone with the same settings, side by side.

Planetoid sets train full-batch with the LA-GNN code's Planetoid settings;
ogbn-arxiv full-batch (GCN / SAGE, symmetrised graph) and ogbn-products in
mini-batches of sampled neighbourhoods (SAGE), scored by OGB's Evaluator."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from glt.datasets import (PLANETOID_NAMES, NodeDataset, load_ogb, load_planetoid, row_normalize,
                          sparse_features)
from glt.memory import keep_freed_memory
from glt.models.lagnn import CVAE, la_backbone, read_lagnn_code_generator, train_cvae
from glt.train import distributed
from glt.train.args import Parser, add_output, add_runs, fanout, preset_flag
from glt.train.lagnn import (augmentation, batch_augmentation, la_batch_objective,
                             la_full_predict, la_objective, pretrain_generator)
from glt.train.metrics import dataset_score
from glt.train.minibatch import train_mini_batch
from glt.train.node import full_graph_predict, repeat_runs, train_full_batch
from glt.train.node_cli import PRESETS as PLAIN_PRESETS, model_factory
from glt.train.output import hardware, write_json

_CVAE = dict(cvae_epochs=10, cvae_batch=64, cvae_lr=0.01, cvae_steps=None, num_models=100,
             warmup=200, update_epochs=20, select=True)
# Planetoid: the LA-GNN code's semi.sh; its GCN layers' initialisation ("lagnn") and
# its LA-GAT's ELU slope 0.2
_PLANETOID = dict(epochs=2000, lr=0.01, hidden=8, num_inputs=2, samples=4, dropout=0.5,
                  lam=1.0, temperature=0.5, weight_decay=5e-4, heads=1, num_layers=2,
                  mode="full", init="glorot", batch_norm=False, input_dropout=True,
                  combine="concat", **_CVAE)
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
# model -> dataset -> settings (num_inputs = the LA-GNN code's --concat generated sets
# + the features themselves)
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "gcn": {"cora": _GCN, "citeseer": _GCN, "ogbn-arxiv": _OGB,
            "pubmed": dict(_GCN, epochs=300, hidden=4, num_inputs=4, lr=0.02)},
    "gat": {"cora": _GAT, "citeseer": _GAT, "pubmed": dict(_GAT, num_inputs=4, heads=2)},
    "sage": {"cora": _PLANETOID, "citeseer": _PLANETOID, "ogbn-arxiv": dict(_OGB, samples=4),
             "ogbn-products": _PRODUCTS,
             "pubmed": dict(_PLANETOID, epochs=300, hidden=4, num_inputs=4, lr=0.02)},
}
OGB_SETS = ("ogbn-arxiv", "ogbn-products")


def build_parser() -> Parser:
    p = Parser(description="Train LA-GCN / LA-GAT / LA-SAGE (local "
                                "augmentation, Liu et al. 2022) on a Planetoid or OGB set.")
    p.add_argument("--model", choices=["gcn", "gat", "sage"], default="gcn")
    p.add_argument("--dataset", choices=sorted(PLANETOID_NAMES) + list(OGB_SETS),
                   default="cora")
    p.add_argument("--root", default=None)
    add_runs(p, 10)
    for key in ("epochs", "cvae_epochs", "samples", "num_inputs", "batch_size"):
        preset_flag(p, key, 1)
    p.add_argument("--fanouts", type=fanout, nargs="+", default=None,
                   help="mini-batch presets: neighbours per hop, -1 for all (default: the "
                   "preset's)")
    p.add_argument("--evaluate", choices=["full", "sampled"], default=None,
                   help="mini-batch presets: score validation and test nodes with every "
                   "neighbour (one pass over the whole graph) or on sampled neighbourhoods "
                   "(less memory); default: the preset's")
    p.add_argument("--generator", default=None, help="load the CVAE from this file if it "
                   "exists, else pretrain and save it there")
    p.add_argument("--lagnn-generator", default=None, metavar="FILE", help="use a generator "
                   "saved by the LA-GNN code (its Citation/model/cora.pkl or "
                   "OGB/model/arxiv.pkl) instead of pretraining one")
    p.add_argument("--no-select", action="store_true", help="keep the last pretrained "
                   "generator instead of selecting one by uncertainty (much faster on CPU)")
    p.add_argument("--init", choices=["glorot", "lagnn"], default=None,
                   help="LA-GCN's initialisation: glt's layers' own (Glorot, zero bias) "
                   "or the LA-GNN code's (weight and bias ~ N(-1/sqrt(out), 1/sqrt(out)^2)); "
                   "default: the preset's (lagnn on Planetoid, glorot on OGB)")
    p.add_argument("--compare", action="store_true", help="also train the plain backbone "
                   "with its paper settings")
    add_output(p)
    return p


def preset(model: str, dataset: str) -> dict[str, Any]:
    """The settings of ``model`` on ``dataset``; a clear error for a missing pair."""
    if dataset not in PRESETS[model]:
        raise ValueError(f"no LA-{model.upper()} preset for {dataset}; presets exist for "
                         f"{sorted(PRESETS[model])}")
    return dict(PRESETS[model][dataset])


def _load(name: str, root: Optional[str], device: torch.device
          ) -> tuple[NodeDataset, Tensor, Callable[[Tensor], Tensor]]:
    """``(data with the model's features, raw features, normalisation of generated sets)``."""
    if name in OGB_SETS:
        data = load_ogb(name, root)
        if name == "ogbn-arxiv":  # directed citations: train on the symmetrised graph
            data.graph = data.graph.to_undirected()
        data = data.to(device)
        return data, data.x, lambda x: x
    data = load_planetoid(name, root).to(device)
    raw_x = data.x
    data.x = row_normalize(raw_x)
    if device.type == "cpu":  # bag-of-words features: sparse products
        data.x = sparse_features(data.x)
    return data, raw_x, row_normalize


def _generator(args: argparse.Namespace, settings: dict[str, Any], data: NodeDataset,
               raw_x: Tensor, normalize: Callable[[Tensor], Tensor], device: torch.device,
               shard: distributed.Shard) -> CVAE:
    """The generator from ``--lagnn-generator`` or ``--generator``, else pretrained
    (by rank 0 under torchrun, which hands its weights to the other ranks) and
    saved to ``--generator``."""
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
    if shard.is_main and (args.no_select or not settings["select"]):
        train_cvae(cvae, raw_x, data.graph, settings["cvae_epochs"], settings["cvae_batch"],
                   settings["cvae_lr"], max_steps=settings["cvae_steps"])
        if variant == "ogb":  # generate as the LA-GNN code: batch statistics of all nodes
            cvae.set_generation_statistics(raw_x)
    elif shard.is_main:
        cvae, step = pretrain_generator(
            cvae, raw_x, data, normalize, settings["cvae_epochs"], settings["cvae_batch"],
            settings["cvae_lr"], settings["num_models"], settings["warmup"],
            settings["update_epochs"])
        print(f"generator selected at step {step}", flush=True)
    distributed.broadcast_module(cvae, shard)  # the other ranks take rank 0's generator
    if args.generator and shard.is_main:
        cvae.save(args.generator)
    return cvae


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_checked(argv)
    keep_freed_memory()
    settings = preset(args.model, args.dataset)
    if args.lagnn_generator and args.generator:
        raise ValueError("give --generator (glt's generator file) or --lagnn-generator (the "
                         "LA-GNN code's), not both")
    if args.init is not None:
        if args.init != "glorot" and args.model != "gcn":
            raise ValueError(f"--init {args.init} applies to LA-GCN only, not {args.model}")
        settings["init"] = args.init
    for key in ("epochs", "cvae_epochs", "samples", "num_inputs", "batch_size", "evaluate",
                "fanouts"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    shard, device = distributed.init(args.device)
    if shard.active and settings["mode"] != "mini":
        raise ValueError(f"the {args.dataset} preset trains full-batch, which is not split "
                         "across ranks: run it without torchrun (data-parallel runs need a "
                         "mini-batch preset, e.g. ogbn-products)")
    data, raw_x, normalize = _load(args.dataset, args.root, device)
    start = time.perf_counter()
    cvae = _generator(args, settings, data, raw_x, normalize, device, shard)
    cvae_seconds = time.perf_counter() - start
    s = settings
    if s["mode"] == "mini":
        draw = batch_augmentation(cvae, raw_x, data.x, s["num_inputs"], normalize)
        train_loss, predict = la_batch_objective(draw, s["samples"], s["lam"], s["temperature"])
        common: dict[str, Any] = dict(train=train_mini_batch, fanouts=s["fanouts"],
                                      batch_size=s["batch_size"], score=dataset_score(data),
                                      shard=shard, eval_after=s["eval_after"])
        full = s["evaluate"] == "full"
        la_extra = dict(full_predict=la_full_predict(draw) if full else None)
        plain_extra = dict(common, full_predict=full_graph_predict if full else None)
    else:
        full_draw = augmentation(cvae, raw_x, data.x, s["num_inputs"], normalize)
        train_loss, predict = la_objective(full_draw, s["samples"], s["lam"],
                                           s["temperature"])
        # the LA-GNN code selects Planetoid runs by validation loss
        common = dict(train=train_full_batch, score=dataset_score(data),
                      select="acc" if args.dataset in OGB_SETS else "loss")
        la_extra, plain_extra = {}, dict(common)

    def make() -> torch.nn.Module:
        return la_backbone(args.model, data.num_features, s["hidden"], data.num_classes,
                           s["num_inputs"], s["dropout"], s["heads"], s["num_layers"],
                           init=s["init"], elu_alpha=s.get("elu_alpha"),
                           batch_norm=s["batch_norm"], input_dropout=s["input_dropout"],
                           combine=s["combine"])
    summary = repeat_runs(make, data, args.runs, seed=args.seed,
                          progress=not args.quiet and shard.is_main, epochs=s["epochs"],
                          lr=s["lr"], weight_decay=s["weight_decay"],
                          train_loss=train_loss, predict=predict, **common, **la_extra)
    result: dict[str, Any] = {
        "model": f"la-{args.model}", "dataset": data.name, "test_acc_mean": summary["test_acc"],
        "test_acc_std": summary["test_acc_std"], "val_acc_mean": summary["val_acc"],
        "runs": args.runs, "seconds": summary["seconds"], "cvae_seconds": cvae_seconds,
        "generator": {"file": args.lagnn_generator or args.generator,
                      "format": "lagnn-code" if args.lagnn_generator else "glt"},
        "settings": settings, "per_run": summary["per_run"], "device": str(device),
        "world_size": shard.world_size,
        "hardware": hardware(args.device)}
    main_rank = shard.is_main
    if main_rank:
        print(f"LA-{args.model.upper()} on {data.name}: test acc "
              f"{100 * result['test_acc_mean']:.2f} +- {100 * result['test_acc_std']:.2f} "
              f"over {args.runs} runs", flush=True)
        write_json(args.out, result)  # kept even if the comparison below is cut short
    if args.compare:  # every rank trains the backbone too
        if args.dataset in OGB_SETS:  # OGB's example model, the same training
            plain = dict(s, patience=None, hidden=s["baseline_hidden"])
            extra = plain_extra
        else:
            plain, extra = dict(PLAIN_PRESETS[args.model]), {}
        base = repeat_runs(model_factory(args.model, data.num_features, data.num_classes, plain),
                           data, args.runs, seed=args.seed,
                           progress=not args.quiet and main_rank, epochs=plain["epochs"],
                           lr=plain["lr"], weight_decay=plain["weight_decay"],
                           **({"patience": plain["patience"]} if plain.get("patience") else {}),
                           **extra)
        result["backbone"] = {"model": args.model, "test_acc_mean": base["test_acc"],
                              "test_acc_std": base["test_acc_std"],
                              "val_acc_mean": base["val_acc"], "seconds": base["seconds"],
                              "per_run": base["per_run"]}
        if main_rank:
            print(f"{args.model.upper()} on {data.name}: test acc "
                  f"{100 * base['test_acc']:.2f} +- {100 * base['test_acc_std']:.2f}",
                  flush=True)
            write_json(args.out, result)
    distributed.finish(shard)
    return result

if __name__ == "__main__":
    main(sys.argv[1:])
