"""Command line for OGB link prediction (``glt train link``): OGB's example
settings as presets, seeds ``seed..seed+runs-1`` (each finished run kept in the
checkpoint folder, so a 10-run reproduction can be spread over several
invocations), and a leaderboard report: JSON plus the markdown row."""
from __future__ import annotations

import datetime
import sys
from dataclasses import asdict
from typing import Any, Optional

import torch

from glt.datasets import load_dataset
from glt.memory import keep_freed_memory
from glt.models.link import LinkModel, LinkPredictor, link_encoder
from glt.train.args import Parser, add_output, add_runs, preset_flag
from glt.train.link import LinkTrainConfig, check_link_data, train_link
from glt.train.metrics import mean_std
from glt.train.node import seed_everything
from glt.train.output import hardware, write_json

# OGB's examples/linkproppred/<set>/gnn.py argparse defaults (runs 10 each)
PRESETS: dict[str, dict[str, Any]] = {
    "ogbl-ddi": dict(hidden=256, num_layers=2, dropout=0.5, batch_size=64 * 1024, lr=0.005,
                     epochs=200, eval_every=5, negatives="exclude", clip=1.0,
                     edge_weight=False),
    # collab: node features, GCN over the co-authorship weights (SAGE ignores them),
    # "trivial random sampling" of negatives, validation edges not in the test graph
    "ogbl-collab": dict(hidden=256, num_layers=3, dropout=0.0, batch_size=64 * 1024,
                        lr=0.001, epochs=200, eval_every=1, negatives="uniform", clip=1.0,
                        edge_weight=True),
}
METHODS = {"gcn": "GCN", "sage": "GraphSAGE"}
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "eval_every", "negatives", "clip", "edge_weight")


def build_parser() -> Parser:
    p = Parser(description="Train a GNN link predictor on an OGB link set with OGB's "
               "example settings; report Hits@K at the best validation epoch over --runs.")
    p.add_argument("--model", choices=sorted(METHODS), default="sage")
    p.add_argument("--dataset", choices=sorted(PRESETS), default="ogbl-ddi")
    p.add_argument("--root", default=None, help="data folder holding <root>/ogbl_ddi/ "
                   "(default: $GLT_DATA or ~/.cache/glt; downloaded when missing)")
    add_runs(p, 10)
    for key in ("hidden", "num_layers", "dropout", "batch_size", "lr", "epochs", "eval_every"):
        preset_flag(p, key, 1)
    p.add_argument("--use-valid-as-input", action="store_true", help="validation edges join "
                   "the graph when scoring the test edges (OGB's --use_valedges_as_input)")
    p.add_argument("--checkpoint", default=None, help="folder of per-run checkpoints "
                   "(seed<N>.pt, written every epoch): a run started again resumes, a "
                   "finished one is read back")
    add_output(p, "write the JSON report here (the markdown row goes beside it, .md)")
    return p


def make_model(kind: str, num_nodes: int, num_features: Optional[int],
               s: dict[str, Any]) -> LinkModel:
    """OGB's example model: learned embeddings when the set has no features."""
    width = num_features or s["hidden"]
    return LinkModel(link_encoder(kind, width, s["hidden"], s["num_layers"], s["dropout"]),
                     LinkPredictor(s["hidden"], s["hidden"], s["num_layers"], s["dropout"]),
                     num_nodes if num_features is None else None,
                     s["hidden"] if num_features is None else None)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def leaderboard_row(report: dict[str, Any]) -> str:
    """The markdown header and row in the OGB leaderboard's column order."""
    metric = report["metric"].replace("hits", "Hits")
    head = (f"| Method | Ext. data | Test {metric} | Validation {metric} | #Params | "
            f"Hardware | Date |\n|---|---|---|---|---|---|---|")
    runs = f"{report['runs']} run" + ("s" if report["runs"] != 1 else "")
    return (f"{head}\n| {report['method']} (glt, {runs}) | No | "
            f"{100 * report['test_mean']:.2f} ± {100 * report['test_std']:.2f} | "
            f"{100 * report['valid_mean']:.2f} ± {100 * report['valid_std']:.2f} | "
            f"{report['params']:,} | {report['hardware']} | {report['date']} |")


def _report(seed: int) -> Any:
    def show(epoch: int, figures: dict[str, float]) -> None:
        print(f"seed {seed} epoch {epoch}: loss {figures['loss']:.4f} valid "
              f"{100 * figures['valid']:.2f} test {100 * figures['test']:.2f}", flush=True)
    return show


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_checked(argv)
    keep_freed_memory()
    s = dict(PRESETS[args.dataset])
    for key in s:
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    data = load_dataset(args.dataset, args.root)
    check_link_data(data)
    data = data.to(args.device)
    evaluator = data.evaluator()
    num_features = None if data.x is None else data.x.size(1)
    config = {k: s[k] for k in _TRAIN_KEYS}
    if not args.quiet:
        print(f"{data}\n{args.model} settings: {s}", flush=True)
    results, params = [], 0
    for seed in range(args.seed, args.seed + args.runs):
        seed_everything(seed)
        model = make_model(args.model, data.num_nodes, num_features, s).to(args.device)
        params = sum(p.numel() for p in model.parameters())
        run = train_link(model, data, LinkTrainConfig(
            **config, eval_batch_size=s["batch_size"], seed=seed,
            use_valid_as_input=args.use_valid_as_input), evaluator, args.checkpoint,
            progress=not args.quiet, settings={"model": args.model, **s},
            on_eval=None if args.quiet else _report(seed))
        results.append(run)
        if not args.quiet:
            print(f"run seed {seed}: valid {100 * run.val_acc:.2f} test {100 * run.test_acc:.2f} "
                  f"(epoch {run.best_epoch} of {run.epochs}, {run.seconds:.0f} s)", flush=True)
    test_mean, test_std = mean_std([r.test_acc for r in results])
    valid_mean, valid_std = mean_std([r.val_acc for r in results])
    report = {"model": f"link-{args.model}", "method": METHODS[args.model],
              "dataset": data.name, "metric": evaluator.eval_metric,
              "valid_mean": valid_mean, "valid_std": valid_std, "test_mean": test_mean,
              "test_std": test_std, "runs": len(results), "params": params,
              "per_run": [asdict(r) for r in results], "settings": s,
              "use_valid_as_input": args.use_valid_as_input,
              "seconds": sum(r.seconds for r in results), "hardware": hardware(args.device),
              "date": datetime.date.today().isoformat(),
              "versions": {"torch": torch.__version__, "ogb": _version("ogb"),
                           "glt": _version("glt-graph")},
              "command": " ".join(["glt", "train", "link", *(argv or sys.argv[1:])])}
    report["leaderboard"] = leaderboard_row(report)
    write_json(args.out, report)
    if args.out:
        with open(args.out.rsplit(".", 1)[0] + ".md", "w") as f:
            f.write(report["leaderboard"] + "\n")
    print(f"{report['method']} on {data.name}: test {report['metric']} "
          f"{100 * test_mean:.2f} ± {100 * test_std:.2f}, valid {100 * valid_mean:.2f} ± "
          f"{100 * valid_std:.2f} over {len(results)} run{'s' if len(results) != 1 else ''}; "
          f"{params:,} parameters", flush=True)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
