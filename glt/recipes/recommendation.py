"""LightGCN (He et al. 2020) and UltraGCN (Mao et al. 2021) on LightGCN-format
sets: train with a named preset, evaluate by full ranking, report the best
evaluation of each run."""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any, Callable, Optional

import torch
from torch import nn

from glt.datasets.rec import RecDataset, load_rec
from glt.datasets.registry import list_datasets
from glt.recipes.base import Context, Recipe
from glt.recipes.report import RunRecord, RunReport, write_report
from glt.train.args import count, data_folder
from glt.train.checkpoint import restore_model
from glt.train.recsys import RecRunState, RecTrainConfig, fit, rec_fingerprint

# UltraGCN's official training loop, the same for every set: item-item top-10, up to
# 2000 epochs, evaluated every 5 epochs and then every epoch after the 50th
_ULTRA_LOOP = dict(num_neighbours=10, epochs=2000, eval_every=5, eval_every_after=50)
_LIGHTGCN = dict(dim=64, num_layers=3, init_std=0.1, decay=1e-4, lr=1e-3, batch_size=2048,
                 epochs=1000, eval_every=10, eval_every_after=None, patience=None)
# He et al. 2020, Sec. 4.1.2: the same settings on every set
LIGHTGCN_PRESETS: dict[str, dict[str, Any]] = {
    name: dict(_LIGHTGCN) for name in ("gowalla", "yelp2018", "amazon-book", "ml-1m",
                                       "gowalla-slice")}
# Mao et al. 2021, the official per-dataset <name>_config.ini files
ULTRAGCN_PRESETS: dict[str, dict[str, Any]] = {
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
}
# the bundled slice (2,000 users): gowalla's settings with the learning rate and
# negatives of the UltraGCN authors' smaller sets, so that a few epochs show progress
ULTRAGCN_PRESETS["gowalla-slice"] = dict(ULTRAGCN_PRESETS["gowalla"], lr=1e-3,
                                         num_negatives=200, patience=50)
TRAIN_KEYS = ("lr", "batch_size", "epochs", "eval_every", "eval_every_after", "patience")


def _lightgcn(data: RecDataset, settings: dict[str, Any]) -> nn.Module:
    from glt.models.lightgcn import LightGCN
    return LightGCN(data.bipartite(), data.num_users, **settings)


def _ultragcn(data: RecDataset, settings: dict[str, Any]) -> nn.Module:
    from glt.models.ultragcn import UltraGCN
    return UltraGCN(data.train, **settings, l2_in_optimizer=True)  # fit() applies it


_MAKERS = {"LightGCN": _lightgcn, "UltraGCN": _ultragcn}


def model_from_checkpoint(path: str, data: RecDataset, weights: str = "best") -> nn.Module:
    """The model of a ``glt train lightgcn|ultragcn --checkpoint`` run (the file
    ``seed<N>.pt`` in its folder) on the set it trained on, with the weights of
    its best evaluation so far (``weights="best"``: those of the run's reported
    figures) or of its last finished epoch (``"last"``); for scoring,
    :func:`~glt.train.recsys.evaluate` or :func:`~glt.train.ranking.recommend`.
    A library :func:`~glt.train.recsys.fit` writes such a checkpoint when given
    the model's constructor arguments as ``settings``. Raises ``ValueError`` as
    :func:`~glt.train.checkpoint.restore_model` does."""
    loop = {f.name for f in dataclasses.fields(RecTrainConfig)}

    def maker(make: Callable[[RecDataset, dict[str, Any]], nn.Module]
              ) -> Callable[[dict[str, Any]], Optional[nn.Module]]:
        def build(settings: dict[str, Any]) -> Optional[nn.Module]:
            model_settings = {k: v for k, v in settings.items() if k not in loop}
            return make(data, model_settings) if model_settings else None
        return build
    return restore_model(path, rec_fingerprint(data),
                         {name: maker(make) for name, make in _MAKERS.items()}, weights)


def rec_record(seed: int, state: RecRunState, metric: str) -> RunRecord:
    """A recommendation run as a report's run (no validation split: the papers'
    protocol selects on the test interactions)."""
    curve = [tuple(point) for point in state.selection["curve"]]
    return RunRecord(seed, state.best_epoch, state.epoch, None, state.best.get(metric, 0.0),
                     state.seconds_train, dict(state.best), curve)


class RecRecipe(Recipe):
    runs = 1
    seed = 2020  # the LightGCN authors' seed

    def __init__(self, name: str, presets: dict[str, dict[str, Any]], default_preset: str,
                 make: Callable[[RecDataset, dict[str, Any]], nn.Module]) -> None:
        self.name, self.presets, self.default_preset, self.make = (name, presets,
                                                                    default_preset, make)
        self.description = (f"Train {name} on a LightGCN-format recommender set and report "
                            "full-ranking recall / ndcg at the best evaluation.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dataset", default="gowalla-slice", help="registered name ("
                            f"{', '.join(list_datasets(source='lightgcn'))}) or a folder with "
                            "train.txt / test.txt (default: the bundled slice of gowalla)")
        parser.add_argument("--root", default=None, type=data_folder, help="data folder of "
                            "registered sets (default: $GLT_DATA/rec or ~/.cache/glt/rec)")
        parser.add_argument("--ks", type=count, nargs="+", default=[20],
                            help="cut-offs of the ranking metrics; the first selects")

    def preset_name(self, args: argparse.Namespace) -> str:
        """A folder's name picks its set's preset (``.../gowalla`` -> gowalla)."""
        base = os.path.basename(os.path.normpath(args.dataset))
        if args.preset is None and base in self.presets:
            return base
        return super().preset_name(args)

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        data = load_rec(args.dataset, args.root)
        if ctx.progress:
            print(data, flush=True)
        metric, k = f"recall@{args.ks[0]}", args.ks[0]
        records: list[RunRecord] = []
        histories: list[list[dict[str, Any]]] = []

        def report(runs: list[RunRecord], history: list[list[dict[str, Any]]]) -> RunReport:
            epochs = sum(r.epochs for r in runs)
            return ctx.report(self.name, data.name, metric, runs, histories=history,
                              seconds_per_epoch=sum(r.seconds for r in runs) / max(epochs, 1))

        for seed in ctx.seeds:
            def progress(state: RecRunState, seed: int = seed) -> None:
                last = state.history[-1]
                if ctx.progress:
                    print(f"seed {seed} epoch {state.epoch}: loss {last['loss']:.4f}  "
                          + "  ".join(f"{m} {v:.4f}" for m, v in last.items()
                                      if m.endswith(f"@{k}")), flush=True)
                write_report(args.out, report(records + [rec_record(seed, state, metric)],
                                              histories + [state.history]))
            torch.manual_seed(seed)
            model = self.make(data, {n: v for n, v in s.items() if n not in TRAIN_KEYS})
            model = model.to(ctx.device)
            config = RecTrainConfig(**{n: s[n] for n in TRAIN_KEYS}, ks=tuple(args.ks),
                                    metric=metric, seed=seed)
            path = args.checkpoint and os.path.join(args.checkpoint, f"seed{seed}.pt")
            state = fit(model, data, config, checkpoint=path or None, progress=ctx.progress,
                        on_eval=progress, shard=ctx.shard, settings=s)
            records.append(rec_record(seed, state, metric))
            histories.append(state.history)
        return report(records, histories)


LIGHTGCN = RecRecipe("lightgcn", LIGHTGCN_PRESETS, "gowalla", _lightgcn)
ULTRAGCN = RecRecipe("ultragcn", ULTRAGCN_PRESETS, "ml-1m", _ultragcn)
