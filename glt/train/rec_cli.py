"""Command line for the recommendation models (``scripts/train_lightgcn.py``,
``scripts/train_ultragcn.py``): load a LightGCN-format set, train with a named
preset, evaluate by full ranking, write JSON."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional

import torch
from torch import nn

from glt.datasets.rec import RecDataset, load_rec
from glt.datasets.registry import list_datasets
from glt.memory import keep_freed_memory
from glt.train import distributed
from glt.train.args import Parser, add_output, count, non_negative_int
from glt.train.output import hardware, write_json
from glt.train.recsys import RecRunState, RecTrainConfig, fit

# UltraGCN's official training loop, the same for every set: item-item top-10, up to
# 2000 epochs, evaluated every 5 epochs and then every epoch after the 50th
_ULTRA_LOOP = dict(num_neighbours=10, epochs=2000, eval_every=5, eval_every_after=50)
# model -> preset name -> settings (training ones go to RecTrainConfig, the rest to the model)
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "lightgcn": {  # He et al. 2020, Sec. 4.1.2: the same settings on every set
        name: dict(dim=64, num_layers=3, init_std=0.1, decay=1e-4, lr=1e-3, batch_size=2048,
                   epochs=1000, eval_every=10, eval_every_after=None, patience=None)
        for name in ("gowalla", "yelp2018", "amazon-book", "ml-1m", "gowalla-slice")
    },
    "ultragcn": {  # Mao et al. 2021, the official per-dataset <name>_config.ini files
        "gowalla": dict(_ULTRA_LOOP, dim=64, lr=1e-4, batch_size=512, num_negatives=1500,
                        negative_weight=300, w1=1e-6, w2=1.0, w3=1e-6, w4=1.0, gamma=1e-4,
                        lambda_=5e-4, init_std=1e-4, patience=150),
        "ml-1m": dict(_ULTRA_LOOP, dim=128, lr=1e-3, batch_size=1024, num_negatives=200,
                      negative_weight=200, w1=1e-7, w2=1.0, w3=1e-7, w4=1.0, gamma=1e-4,
                      lambda_=1e-3, init_std=1e-3, patience=50),
        "yelp2018": dict(_ULTRA_LOOP, dim=64, lr=1e-3, batch_size=1024, num_negatives=800,
                         negative_weight=300, w1=1e-8, w2=1.0, w3=1e-8, w4=1.0, gamma=1e-4,
                         lambda_=5e-4, init_std=1e-4, patience=15),
        "amazon-book": dict(_ULTRA_LOOP, dim=64, lr=1e-3, batch_size=1024, num_negatives=500,
                            negative_weight=500, w1=1e-8, w2=1.0, w3=1.0, w4=1e-8, gamma=1e-4,
                            lambda_=2.75, init_std=1e-4, patience=15),
    },
}
# the bundled slice (2,000 users): gowalla's settings with the learning rate and
# negatives of the UltraGCN authors' smaller sets, so that a few epochs show progress
PRESETS["ultragcn"]["gowalla-slice"] = dict(PRESETS["ultragcn"]["gowalla"], lr=1e-3,
                                            num_negatives=200, patience=50)
TRAIN_KEYS = ("lr", "batch_size", "epochs", "eval_every", "eval_every_after", "patience")


def build_parser(model: str) -> Parser:
    p = Parser(description=f"Train {model} on a LightGCN-format recommender set "
                                "and report full-ranking recall / ndcg at the best evaluation.")
    p.add_argument("--dataset", default="gowalla-slice",
                   help=f"registered name ({', '.join(list_datasets(source='lightgcn'))}) "
                   "or a folder with train.txt / test.txt (default: the bundled slice of "
                   "gowalla)")
    p.add_argument("--root", default=None, help="data folder of registered sets "
                   "(default: $GLT_DATA/rec or ~/.cache/glt/rec)")
    p.add_argument("--preset", default=None, help=f"settings by name (default: the dataset's); "
                   f"one of {sorted(PRESETS[model])}")
    p.add_argument("--epochs", type=count, default=None)
    p.add_argument("--eval-every", type=count, default=None)
    p.add_argument("--eval-every-after", type=non_negative_int, default=None,
                   help="evaluate every epoch after this one (default: the preset's)")
    p.add_argument("--ks", type=count, nargs="+", default=[20])
    p.add_argument("--seed", type=non_negative_int, default=2020)
    p.add_argument("--checkpoint", default=None, help="resume from / save to this file")
    add_output(p, "write the JSON result here (after every evaluation)")
    return p


def settings_for(model: str, preset: str, args: argparse.Namespace) -> dict[str, Any]:
    """The preset's settings with ``--epochs`` / ``--eval-every[-after]`` applied."""
    if preset not in PRESETS[model]:
        raise ValueError(f"unknown preset {preset!r} for {model}; expected one of "
                         f"{sorted(PRESETS[model])}")
    settings = dict(PRESETS[model][preset])
    for key in ("epochs", "eval_every", "eval_every_after"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


def run(model_name: str, make: Callable[[RecDataset, dict[str, Any]], nn.Module],
        argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser(model_name).parse_checked(argv)
    keep_freed_memory()
    shard, device = distributed.init(args.device)
    data = load_rec(args.dataset, args.root)
    preset = args.preset or data.name
    settings = settings_for(model_name, preset, args)
    if shard.is_main:
        print(f"{data}\npreset {preset}: {json.dumps(settings)}"
              + (f"\ndata parallel over {shard.world_size} ranks" if shard.active else ""),
              flush=True)
    torch.manual_seed(args.seed)
    model = make(data, {k: v for k, v in settings.items() if k not in TRAIN_KEYS})
    model = model.to(device)
    config = RecTrainConfig(**{k: settings[k] for k in TRAIN_KEYS}, ks=tuple(args.ks),
                            metric=f"recall@{args.ks[0]}", seed=args.seed)
    k = args.ks[0]

    def result(state: RecRunState) -> dict[str, Any]:
        return {"model": model_name, "dataset": data.name, "preset": preset,
                "epoch": state.epoch, "best_epoch": state.best_epoch,
                f"recall@{k}": state.best.get(f"recall@{k}"),
                f"ndcg@{k}": state.best.get(f"ndcg@{k}"), "best": state.best,
                "seconds_per_epoch": state.seconds_train / max(state.epoch, 1),
                "seconds_total": state.seconds_train, "settings": settings,
                "seed": args.seed, "device": str(device), "world_size": shard.world_size,
                "hardware": hardware(args.device),
                "threads": torch.get_num_threads(), "history": state.history}

    def write(state: RecRunState) -> None:
        write_json(args.out, result(state))

    state = fit(model, data, config, checkpoint=args.checkpoint, progress=not args.quiet,
                on_eval=write, shard=shard, settings=settings)
    out = result(state)
    distributed.finish(shard)
    if not shard.is_main:
        return out
    write(state)
    print(f"{model_name} on {data.name}: best recall@{k} {out[f'recall@{k}']:.4f} ndcg@{k} "
          f"{out[f'ndcg@{k}']:.4f} at epoch {state.best_epoch} of {state.epoch}; "
          f"{out['seconds_per_epoch']:.1f}s per epoch", flush=True)
    return out


def main_lightgcn(argv: Optional[list[str]] = None) -> dict[str, Any]:
    from glt.models.lightgcn import LightGCN
    return run("lightgcn", lambda data, s: LightGCN(data.bipartite(), data.num_users, **s), argv)


def main_ultragcn(argv: Optional[list[str]] = None) -> dict[str, Any]:
    from glt.models.ultragcn import UltraGCN
    return run("ultragcn", lambda data, s: UltraGCN(data.train, **s), argv)


if __name__ == "__main__":
    main_lightgcn(sys.argv[1:])
