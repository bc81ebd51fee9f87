"""OGB link prediction with OGB's example settings as presets; seeds
``seed..seed+runs-1``, each finished run kept in the checkpoint folder (a 10-run
reproduction can be spread over several invocations), and the OGB leaderboard
row (markdown) beside the report."""
from __future__ import annotations

import argparse
from typing import Any, Optional

from glt.datasets import load_dataset
from glt.datasets.link import LinkDataset
from glt.models.link import LinkModel, LinkPredictor, link_encoder
from glt.recipes.base import Context, Recipe
from glt.recipes.report import RunRecord, RunReport, format_metric, metric_label
from glt.train.args import data_folder
from glt.train.checkpoint import restore_model
from glt.train.link import LinkTrainConfig, check_link_data, link_fingerprint, train_link
from glt.train.node import seed_everything

# OGB's examples/linkproppred/<set>/gnn.py argparse defaults (runs 10 each)
PRESETS: dict[str, dict[str, Any]] = {
    "ogbl-ddi": dict(hidden=256, num_layers=2, dropout=0.5, batch_size=64 * 1024, lr=0.005,
                     epochs=200, eval_every=5, negatives="exclude", clip=1.0,
                     edge_weight=False, symmetric=False),
    # collab: node features, GCN over the co-authorship weights (SAGE ignores them),
    # "trivial random sampling" of negatives, validation edges not in the test graph;
    # 200 epochs, the example's default when its leaderboard entries were made (400
    # since snap-stanford/ogb 36e64a5, two days after the last of them)
    "ogbl-collab": dict(hidden=256, num_layers=3, dropout=0.0, batch_size=64 * 1024,
                        lr=0.001, epochs=200, eval_every=1, negatives="uniform", clip=1.0,
                        edge_weight=True, symmetric=False),
    # ppa: the 58 one-hot species features as floats, uniform negatives, 20 epochs
    "ogbl-ppa": dict(hidden=256, num_layers=3, dropout=0.0, batch_size=64 * 1024, lr=0.01,
                     epochs=20, eval_every=1, negatives="uniform", clip=1.0,
                     edge_weight=False, symmetric=False),
    # citation2: the directed citations made symmetric, each training pair's source
    # against a random target, no gradient clipping; MRR among 1,000 targets a source
    "ogbl-citation2": dict(hidden=256, num_layers=3, dropout=0.0, batch_size=64 * 1024,
                           lr=0.0005, epochs=50, eval_every=1, negatives="per_source",
                           clip=None, edge_weight=False, symmetric=True),
}
METHODS = {"gcn": "GCN", "sage": "GraphSAGE"}


def method_name(model: str, use_valid_as_input: bool = False) -> str:
    """The name OGB's leaderboards give ``model`` (``gcn`` / ``sage``), marked
    ``(val as input)`` when the validation edges join the test graph."""
    return METHODS[model] + (" (val as input)" if use_valid_as_input else "")
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "eval_every", "negatives", "clip", "edge_weight",
               "symmetric")


def make_model(kind: str, num_nodes: int, num_features: Optional[int],
               s: dict[str, Any]) -> LinkModel:
    """OGB's example model: learned embeddings when the set has no features."""
    width = num_features or s["hidden"]
    return LinkModel(link_encoder(kind, width, s["hidden"], s["num_layers"], s["dropout"]),
                     LinkPredictor(s["hidden"], s["hidden"], s["num_layers"], s["dropout"]),
                     num_nodes if num_features is None else None,
                     s["hidden"] if num_features is None else None)


def model_from_checkpoint(path: str, data: LinkDataset, weights: str = "best") -> LinkModel:
    """The model of a ``glt train link --checkpoint`` run (the file ``seed<N>.pt``
    in its folder) on the set it trained on (as :func:`~glt.datasets.load_dataset`
    reads it), with the weights of its best validation evaluation
    (``weights="best"``: those of the run's reported figures) or of its last
    finished epoch (``"last"``); for scoring, ``model.score(model.encode(data.x,
    data.graph), pairs)`` or :func:`~glt.train.link.evaluate_link` with the run's
    settings (ogbl-citation2's encoder reads ``data.graph`` made symmetric:
    ``symmetric=True``). Raises
    ``ValueError`` as :func:`~glt.train.checkpoint.restore_model` does."""
    num_features = None if data.x is None else data.x.size(1)

    def build(settings: dict[str, Any]) -> LinkModel:
        return make_model(settings["model"], data.num_nodes, num_features, settings)
    return restore_model(path, link_fingerprint(data), {"LinkModel": build}, weights)


def leaderboard_row(report: RunReport) -> str:
    """The markdown header and row in the OGB leaderboard's column order (Hits@K
    in percent, MRR as a fraction, as the leaderboard writes them)."""
    metric = metric_label(report.metric)

    def fmt(value: Optional[float]) -> str:
        return format_metric(report.metric, value)
    head = (f"| Method | Ext. data | Test {metric} | Validation {metric} | #Params | "
            f"Hardware | Date |\n|---|---|---|---|---|---|---|")
    n = len(report.runs)
    method = method_name(report.model.removeprefix("link-"),
                         bool(report.extra.get("use_valid_as_input"))) \
        + f" (glt, {n} run" + ("s" if n != 1 else "") + ")"
    return (f"{head}\n| {method} | No | "
            f"{fmt(report.test_mean)} ± {fmt(report.test_std)} | "
            f"{fmt(report.valid_mean)} ± {fmt(report.valid_std)} | "
            f"{report.extra['params']:,} | {report.hardware} | {report.date} |")


class LinkRecipe(Recipe):
    name = "link"
    description = ("Train a GNN link predictor on an OGB link set with OGB's example settings; "
                   "report Hits@K (MRR on ogbl-citation2) at the best validation epoch over "
                   "--runs.")
    presets = PRESETS

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", choices=sorted(METHODS), default="sage")
        parser.add_argument("--dataset", choices=sorted(PRESETS), default="ogbl-ddi")
        parser.add_argument("--root", default=None, type=data_folder, help="data folder "
                            "holding <root>/ogbl_ddi/ (default: $GLT_DATA or ~/.cache/glt; "
                            "downloaded when missing)")
        parser.add_argument("--use-valid-as-input", action="store_true", help="validation "
                            "edges join the graph when scoring the test edges, unweighted and "
                            "each pair once, as OGB's collab example (--use_valedges_as_input) "
                            "builds it")

    def run(self, ctx: Context) -> RunReport:
        args, s = ctx.args, ctx.settings
        LinkTrainConfig(**{k: s[k] for k in _TRAIN_KEYS})  # refused before the data loads
        data = load_dataset(args.dataset, args.root)
        check_link_data(data)
        data = data.to(ctx.device)
        evaluator = data.evaluator()
        num_features = None if data.x is None else data.x.size(1)
        if ctx.progress:
            print(data, flush=True)
        records, params = [], 0
        for seed in ctx.seeds:
            seed_everything(seed)
            model = make_model(args.model, data.num_nodes, num_features, s).to(ctx.device)
            params = sum(p.numel() for p in model.parameters())

            def show(epoch: int, figures: dict[str, float], seed: int = seed) -> None:
                valid, test = (format_metric(evaluator.eval_metric, figures[k])
                               for k in ("valid", "test"))
                print(f"seed {seed} epoch {epoch}: loss {figures['loss']:.4f} valid {valid} "
                      f"test {test}", flush=True)
            run = train_link(model, data, LinkTrainConfig(
                **{k: s[k] for k in _TRAIN_KEYS}, eval_batch_size=s["batch_size"], seed=seed,
                use_valid_as_input=args.use_valid_as_input), evaluator, args.checkpoint,
                progress=ctx.progress, settings={"model": args.model, **s},
                on_eval=show if ctx.progress else None)
            records.append(RunRecord(run.seed, run.best_epoch, run.epochs, run.val_acc,
                                     run.test_acc, run.seconds,
                                     {evaluator.eval_metric: run.test_acc}, list(run.curve)))
        report = ctx.report(f"link-{args.model}", data.name, evaluator.eval_metric, records,
                            params=params, use_valid_as_input=args.use_valid_as_input)
        report.extra["leaderboard"] = leaderboard_row(report)
        if args.out and ctx.shard.is_main:
            with open(args.out.rsplit(".", 1)[0] + ".md", "w") as f:
                f.write(report.extra["leaderboard"] + "\n")
        return report
