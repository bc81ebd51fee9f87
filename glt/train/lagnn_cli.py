"""Command line for local augmentation on Planetoid (``scripts/train_lagnn.py``):
pretrain (or load) the CVAE generator, then train LA-GCN / LA-GAT / LA-SAGE and,
with ``--compare``, the plain backbone with the same settings, side by side."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Optional

import torch

from glt.datasets import PLANETOID_NAMES, load_planetoid, row_normalize
from glt.models.lagnn import CVAE, la_backbone, train_cvae
from glt.train.lagnn import augmentation, la_objective, pretrain_generator
from glt.train.node import repeat_runs
from glt.train.node_cli import PRESETS as PLAIN_PRESETS, model_factory

_CVAE = dict(cvae_epochs=10, cvae_batch=64, cvae_lr=0.01, num_models=100, warmup=200,
             update_epochs=20)
_GCN = dict(epochs=2000, lr=0.01, hidden=8, num_inputs=2, samples=4, dropout=0.5, lam=1.0,
            temperature=0.5, weight_decay=5e-4, heads=1, **_CVAE)
_GAT = dict(_GCN, epochs=1000, dropout=0.6, heads=4)
# model -> dataset -> the settings of the LA-GNN code's Planetoid runs (num_inputs =
# its --concat generated sets + the features themselves)
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "gcn": {"cora": _GCN, "citeseer": _GCN,
            "pubmed": dict(_GCN, epochs=300, hidden=4, num_inputs=4, lr=0.02)},
    "gat": {"cora": _GAT, "citeseer": _GAT, "pubmed": dict(_GAT, num_inputs=4, heads=2)},
    "sage": {"cora": _GCN, "citeseer": _GCN,
             "pubmed": dict(_GCN, epochs=300, hidden=4, num_inputs=4, lr=0.02)},
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train LA-GCN / LA-GAT / LA-SAGE (local "
                                "augmentation, Liu et al. 2022) on a Planetoid dataset.")
    p.add_argument("--model", choices=["gcn", "gat", "sage"], default="gcn")
    p.add_argument("--dataset", choices=sorted(PLANETOID_NAMES), default="cora")
    p.add_argument("--root", default=None)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    for flag, kind in (("epochs", int), ("cvae-epochs", int), ("samples", int),
                       ("num-inputs", int)):
        p.add_argument(f"--{flag}", type=kind, default=None, help="default: the preset's")
    p.add_argument("--generator", default=None, help="load the CVAE from this file if it "
                   "exists, else pretrain and save it there")
    p.add_argument("--no-select", action="store_true", help="keep the last pretrained "
                   "generator instead of selecting one by uncertainty (much faster on CPU)")
    p.add_argument("--compare", action="store_true", help="also train the plain backbone "
                   "with its paper settings")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None)
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    settings = dict(PRESETS[args.model][args.dataset])
    for key in ("epochs", "cvae_epochs", "samples", "num_inputs"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    data = load_planetoid(args.dataset, args.root).to(args.device)
    raw_x = data.x
    data.x = row_normalize(raw_x)
    start = time.perf_counter()
    if args.generator and os.path.exists(args.generator):
        cvae = CVAE.load(args.generator, map_location=args.device)
        if cvae.num_features != raw_x.size(1):
            raise ValueError(f"the generator in {args.generator} was trained on "
                             f"{cvae.num_features} features; {data.name} has {raw_x.size(1)}")
    else:
        torch.manual_seed(args.seed)
        cvae = CVAE(raw_x.size(1)).to(args.device)
        if args.no_select:
            train_cvae(cvae, raw_x, data.graph, settings["cvae_epochs"], settings["cvae_batch"],
                       settings["cvae_lr"])
        else:
            cvae, step = pretrain_generator(
                cvae, raw_x, data, row_normalize, settings["cvae_epochs"],
                settings["cvae_batch"], settings["cvae_lr"], settings["num_models"],
                settings["warmup"], settings["update_epochs"])
            print(f"generator selected at step {step}", flush=True)
        if args.generator:
            cvae.save(args.generator)
    cvae_seconds = time.perf_counter() - start
    draw = augmentation(cvae, raw_x, data.x, settings["num_inputs"], row_normalize)
    train_loss, predict = la_objective(draw, settings["samples"], settings["lam"],
                                       settings["temperature"])

    def make() -> torch.nn.Module:
        return la_backbone(args.model, data.num_features, settings["hidden"], data.num_classes,
                           settings["num_inputs"], settings["dropout"], settings["heads"])
    summary = repeat_runs(make, data, args.runs, seed=args.seed, progress=not args.quiet,
                          epochs=settings["epochs"], lr=settings["lr"],
                          weight_decay=settings["weight_decay"], train_loss=train_loss,
                          predict=predict, select="loss")
    result: dict[str, Any] = {
        "model": f"la-{args.model}", "dataset": data.name, "test_acc_mean": summary["test_acc"],
        "test_acc_std": summary["test_acc_std"], "val_acc_mean": summary["val_acc"],
        "runs": args.runs, "seconds": summary["seconds"], "cvae_seconds": cvae_seconds,
        "settings": settings, "per_run": summary["per_run"],
        "device": str(args.device), "hardware": platform.processor() or platform.machine()}
    print(f"LA-{args.model.upper()} on {data.name}: test acc "
          f"{100 * result['test_acc_mean']:.2f} +- {100 * result['test_acc_std']:.2f} over "
          f"{args.runs} runs", flush=True)
    write_result(args.out, result)  # kept even if the comparison below is cut short
    if args.compare:
        plain = dict(PLAIN_PRESETS[args.model])
        base = repeat_runs(model_factory(args.model, data.num_features, data.num_classes, plain),
                           data, args.runs, seed=args.seed, progress=not args.quiet,
                           epochs=plain["epochs"], lr=plain["lr"],
                           weight_decay=plain["weight_decay"], patience=plain["patience"])
        result["backbone"] = {"model": args.model, "test_acc_mean": base["test_acc"],
                              "test_acc_std": base["test_acc_std"],
                              "val_acc_mean": base["val_acc"], "seconds": base["seconds"]}
        print(f"{args.model.upper()} on {data.name}: test acc {100 * base['test_acc']:.2f} +- "
              f"{100 * base['test_acc_std']:.2f}", flush=True)
        write_result(args.out, result)
    return result


def write_result(path: Optional[str], result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``path`` (if given) atomically."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main(sys.argv[1:])
