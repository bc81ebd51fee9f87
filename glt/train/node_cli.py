"""Command line for full-batch node classification (``scripts/train_node.py``).

Defaults are the papers' settings: GCN (Kipf & Welling 2017) and GAT
(Velickovic et al. 2018) on Planetoid; GraphSAGE with GCN's optimiser settings.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Callable, Optional

import torch
from torch import nn

from glt.datasets import PLANETOID_NAMES, load_planetoid, row_normalize, sparse_features
from glt.memory import keep_freed_memory
from glt.models import GAT, GCN, GraphSAGE
from glt.train.args import Parser, add_output, add_runs, preset_flag
from glt.train.node import repeat_runs
from glt.train.output import hardware, write_json

# name -> settings; None means "not used by this model"
PRESETS: dict[str, dict] = {
    "gcn": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                heads=None),
    "gat": dict(hidden=8, dropout=0.6, lr=0.005, weight_decay=5e-4, epochs=1000, patience=100,
                heads=8),
    "sage": dict(hidden=16, dropout=0.5, lr=0.01, weight_decay=5e-4, epochs=200, patience=None,
                 heads=None),
}


def model_factory(name: str, in_channels: int, num_classes: int,
                  settings: dict) -> Callable[[], nn.Module]:
    """A constructor of a fresh model ``name`` with ``settings`` (see ``PRESETS``)."""
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


def build_parser() -> Parser:
    p = Parser(description="Train GCN / GraphSAGE / GAT on a Planetoid dataset "
                                "(default: Cora, bundled) and report test accuracy at the best "
                                "validation epoch, mean and std over --runs.")
    p.add_argument("--model", choices=sorted(PRESETS), default="gcn")
    p.add_argument("--dataset", choices=sorted(PLANETOID_NAMES), default="cora")
    p.add_argument("--root", default=None, help="data folder (default: bundled Cora, else "
                   "$GLT_DATA or ~/.cache/glt)")
    add_runs(p, 10)
    for key in ("hidden", "dropout", "lr", "weight_decay", "epochs", "patience", "heads"):
        preset_flag(p, key, None, help="default: the model's preset")
    add_output(p)
    return p


def main(argv: Optional[list[str]] = None) -> dict:
    args = build_parser().parse_checked(argv)
    keep_freed_memory()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = dict(PRESETS[args.model])
    for key in settings:
        given = getattr(args, key)
        if given is not None:
            settings[key] = given
    print(f"args: {json.dumps(vars(args))}\nsettings: {json.dumps(settings)}", flush=True)

    data = load_planetoid(args.dataset, args.root)
    data.x = row_normalize(data.x)
    if torch.device(args.device).type == "cpu":  # bag-of-words features: sparse products
        data.x = sparse_features(data.x)
    data = data.to(args.device)
    make = model_factory(args.model, data.num_features, data.num_classes, settings)
    summary = repeat_runs(make, data, args.runs, seed=args.seed, progress=not args.quiet,
                          epochs=settings["epochs"], lr=settings["lr"],
                          weight_decay=settings["weight_decay"], patience=settings["patience"])
    result = {"model": args.model, "dataset": data.name, **summary, "settings": settings,
              "device": str(args.device), "hardware": hardware(args.device),
              "threads": torch.get_num_threads()}
    print(f"{args.model} on {data.name}: test acc {100 * result['test_acc']:.2f} "
          f"+- {100 * result['test_acc_std']:.2f} (val {100 * result['val_acc']:.2f} "
          f"+- {100 * result['val_acc_std']:.2f}) over {args.runs} runs, "
          f"{result['seconds']:.1f}s", flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
