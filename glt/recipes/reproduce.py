"""One command for the reproduction table: every implemented model on every
dataset that can be reached, beside the paper's (or leaderboard's) figure.

``python scripts/reproduce.py --quick`` trains each model briefly on the bundled
Cora (minutes on 2 CPU cores); ``--root DIR`` adds the sets found under
``DIR/rec/<name>/`` (LightGCN format) and ``DIR/ogb/`` (OGB releases). The table
(markdown and JSON) and a PNG of the training curves go to ``--out``.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Optional

from glt.datasets.registry import dataset_info
from glt.recipes import recipe
from glt.recipes.link import method_name  # the names OGB's leaderboards give the models
from glt.recipes.report import format_metric, metric_label
from glt.train.args import Parser, data_folder
from glt.train.output import write_json

QUICK_NOTE = "quick: shortened training, not comparable with the paper's figure"


@dataclass(frozen=True)
class Entry:
    """One row: recipe ``run`` with ``options`` (flag destinations to values);
    ``quick`` replaces or adds options in ``--quick`` mode (``None``: skipped there)."""

    model: str
    dataset: str
    run: str
    options: dict[str, Any]
    quick: Optional[dict[str, Any]]
    paper: Optional[float] = None
    source: str = ""
    note: str = ""  # shown in the paper column instead of a comparable figure


def _node(model: str, paper: Optional[float], source: str, quick: dict[str, Any]) -> Entry:
    return Entry(model.upper(), "cora", "node", {"model": model, "runs": 10},
                 {"runs": 1, **quick}, paper, source)


_OGB_SOURCE = "OGB leaderboard (its example code)"


def _ogb_node(model: str, dataset: str, paper: float, quick: dict[str, Any]) -> Entry:
    return Entry(method_name(model), dataset, "node",
                 {"model": model, "dataset": dataset, "runs": 10}, quick, paper,
                 _OGB_SOURCE)


def _ogb_link(model: str, dataset: str, paper: float, valid_as_input: bool = False) -> Entry:
    options: dict[str, Any] = {"model": model, "dataset": dataset}
    if valid_as_input:
        options["use_valid_as_input"] = True
    return Entry(method_name(model, valid_as_input), dataset, "link", options, _LINK_QUICK,
                 paper, _OGB_SOURCE)


def _la(model: str, dataset: str, paper: float, quick: Optional[dict[str, Any]],
        runs: int = 10) -> Entry:
    return Entry(f"LA-{model.upper()}", dataset, "lagnn",
                 {"model": model, "dataset": dataset, "runs": runs}, quick, paper,
                 "Liu et al. 2022, Tables 2-3")


# 100 epochs: glt's Glorot initialisation, as the LA-GNN code's (the preset) peaks
# only after ~1000 epochs
_LA_QUICK = dict(runs=1, epochs=100, cvae_epochs=1, select=False, init="glorot")
_REC_QUICK = dict(epochs=2, eval_every=1)
_LINK_QUICK = dict(runs=1, epochs=1, eval_every=1)

ENTRIES: tuple[Entry, ...] = (
    _node("gcn", 0.815, "Kipf & Welling 2017", {}),
    _node("gat", 0.830, "Velickovic et al. 2018", {"epochs": 100}),
    _node("sage", None, "", {"epochs": 100}),
    _la("gcn", "cora", 0.846, _LA_QUICK),
    _la("gat", "cora", 0.847, None),
    Entry("LargeGT", "cora", "largegt", {"runs": 10}, {"runs": 1, "epochs": 100}),
    Entry("LightGCN", "gowalla-slice", "lightgcn", {"dataset": "gowalla-slice", "epochs": 100},
          {"epochs": 5, "eval_every": 1}, note="0.1823 is full gowalla's: not comparable"),
    Entry("UltraGCN", "gowalla-slice", "ultragcn", {"dataset": "gowalla-slice", "epochs": 100},
          {"epochs": 5, "eval_every": 1}, note="0.1862 is full gowalla's: not comparable"),
    Entry("LightGCN", "gowalla", "lightgcn", {"dataset": "gowalla"}, _REC_QUICK, 0.1823,
          "He et al. 2020, Table 3 (3 layers)"),
    Entry("LightGCN", "ml-1m", "lightgcn", {"dataset": "ml-1m"}, _REC_QUICK),
    Entry("UltraGCN", "gowalla", "ultragcn", {"dataset": "gowalla"}, None, 0.1862,
          "Mao et al. 2021, Table 2"),
    Entry("UltraGCN", "ml-1m", "ultragcn", {"dataset": "ml-1m"}, _REC_QUICK, 0.2787,
          "Mao et al. 2021, Table 2"),
    _ogb_node("gcn", "ogbn-arxiv", 0.7174, {"runs": 1, "epochs": 5}),
    _ogb_node("sage", "ogbn-arxiv", 0.7149, {"runs": 1, "epochs": 5}),
    _ogb_node("sage", "ogbn-products", 0.7870, {"runs": 1, "epochs": 1}),
    _ogb_node("gcn", "ogbn-proteins", 0.7251, {"runs": 1, "epochs": 5}),
    _ogb_node("sage", "ogbn-proteins", 0.7768, {"runs": 1, "epochs": 5}),
    _la("gcn", "ogbn-arxiv", 0.7208, {"runs": 1, "epochs": 5}),
    _la("sage", "ogbn-arxiv", 0.7230, {"runs": 1, "epochs": 5}),
    _la("sage", "ogbn-products", 0.7944, {"runs": 1, "epochs": 1}),
    Entry("LargeGT", "ogbn-products", "largegt", {"dataset": "ogbn-products", "runs": 1},
          {"epochs": 1}),
    _ogb_link("sage", "ogbl-ddi", 0.5390),
    _ogb_link("gcn", "ogbl-ddi", 0.3707),
    _ogb_link("sage", "ogbl-collab", 0.4810),
    _ogb_link("gcn", "ogbl-collab", 0.4475),
    _ogb_link("sage", "ogbl-collab", 0.5463, valid_as_input=True),
    _ogb_link("sage", "ogbl-ppa", 0.1655),
    _ogb_link("gcn", "ogbl-ppa", 0.1867),
    _ogb_link("sage", "ogbl-citation2", 0.8260),
    _ogb_link("gcn", "ogbl-citation2", 0.8474),
)


def data_root(entry: Entry, root: Optional[str]) -> Optional[str]:
    """The ``--root`` to pass for ``entry``'s dataset, or None when it is not on disk
    (the bundled Cora always is: its root is '')."""
    if entry.dataset == "cora" or dataset_info(entry.dataset).extra.get("bundled"):
        return ""
    if root is None:
        return None
    if entry.run in ("lightgcn", "ultragcn"):
        rec = os.path.join(root, "rec")
        found = os.path.exists(os.path.join(rec, entry.dataset, "train.txt"))
        return rec if found else None
    ogb = os.path.join(root, "ogb")
    folder = dataset_info(entry.dataset).name.replace("-", "_")
    return ogb if os.path.isdir(os.path.join(ogb, folder)) else None


def run_entry(entry: Entry, root: str, quick: bool, device: str, out_dir: str
              ) -> dict[str, Any]:
    """Train ``entry`` and return its table row (with the first run's curve)."""
    options = {**entry.options, **(entry.quick or {})} if quick else dict(entry.options)
    stem = "_".join((entry.run, re.sub(r"[^\w.-]+", "-", entry.model).strip("-"),
                     entry.dataset))  # "GraphSAGE (val as input)": GraphSAGE-val-as-input
    options.update(device=device, quiet=True, out=os.path.join(out_dir, "runs", f"{stem}.json"))
    if root:
        options["root"] = root
    start = time.perf_counter()
    report = recipe(entry.run).main([], **options)
    return {"model": entry.model, "dataset": entry.dataset, "metric": report.metric,
            "glt": report.test_mean, "paper": entry.paper, "source": entry.source,
            "note": entry.note, "runs": len(report.runs),
            "seconds": time.perf_counter() - start, "hardware": report.hardware,
            "command": report.command, "curve": report.runs[0].curve}


def table(rows: list[dict[str, Any]], quick: bool) -> str:
    """The rows as a markdown table."""
    lines = ["| model | dataset | metric | glt | paper | runs | time | hardware |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        paper = (format_metric(r["metric"], r["paper"]) if r["paper"] is not None
                 else r.get("note") or "—")
        lines.append(f"| {r['model']} | {r['dataset']} | {r['metric']} | "
                     f"{format_metric(r['metric'], r['glt'])} | {paper} | {r['runs']} | "
                     f"{r['seconds']:.0f} s | {r['hardware']} |")
    if quick:
        lines.append(f"\n({QUICK_NOTE}.)")
    return "\n".join(lines)


def _panel_label(metric: str) -> str:
    """What a curve of ``metric`` shows: the test recall of a recommendation run,
    else the first run's validation score."""
    if metric.startswith("recall"):
        return f"test {metric}"
    return f"validation {metric_label(metric)} (first run)"


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Training curves against epochs: one panel per metric, one line per row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(m, _panel_label(m)) for m in dict.fromkeys(r["metric"] for r in rows)]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (metric, label) in zip(axes[0], panels):
        for r in rows:
            if r["metric"] == metric and r["curve"]:
                epochs, values = zip(*r["curve"])
                ax.plot(epochs, values, label=f"{r['model']} {r['dataset']}",
                        marker="o" if len(epochs) < 5 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_parser() -> Parser:
    p = Parser(prog="glt reproduce", folders=("out",), description="Train every implemented "
               "model on every dataset that can be reached and print glt's figures beside "
               "the papers'.")
    p.add_argument("--quick", action="store_true", help="a few minutes on CPU: one short run "
                   "per model (the figures are then not comparable with the papers')")
    p.add_argument("--root", default=None, type=data_folder, help="folder with rec/<name>/ "
                   "(LightGCN format) and ogb/ (OGB releases) sets; the bundled Cora is always "
                   "used")
    p.add_argument("--only", nargs="+", default=None, help="run only these models (e.g. GCN "
                   "LightGCN)")
    p.add_argument("--datasets", nargs="+", default=None, metavar="NAME", help="run only the "
                   "rows on these datasets (e.g. cora ogbl-collab)")
    p.add_argument("--list", action="store_true", help="list the rows these flags select, "
                   "with their paper figures and whether their data is found, and exit")
    p.add_argument("--download", action="store_true", help="fetch the sets that are not "
                   "under --root (default root: $GLT_DATA or ~/.cache/glt) from their "
                   "registered sources, verified by their checksums")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="results/reproduce", help="folder for reproduce.md, "
                   "reproduce.json, curves.png and each run's JSON")
    return p


def fetch(dataset: str, root: str) -> Optional[str]:
    """Download ``dataset`` into ``root`` (``rec/`` or ``ogb/``) from its registered
    source; ``None`` when it is there, else the one line saying why not."""
    from glt.datasets import load_ogb, load_rec
    from glt.datasets._download import download_progress
    info = dataset_info(dataset)
    try:
        with download_progress():
            if info.source == "lightgcn":
                load_rec(info.name, os.path.join(root, "rec"), download=True)
            else:
                load_ogb(info.name, os.path.join(root, "ogb"), download=True)
    except (RuntimeError, ValueError, OSError) as err:
        return f"{dataset}: {err}"
    return None


def select(parser: Parser, models: Optional[list[str]], datasets: Optional[list[str]]
           ) -> list[Entry]:
    """The entries of ``models`` (any case) on ``datasets`` (``None``: all);
    a name no entry has is refused through ``parser``."""
    for flag, given, field in (("only", models, "model"), ("datasets", datasets, "dataset")):
        names = list(dict.fromkeys(getattr(entry, field) for entry in ENTRIES))
        unknown = sorted({g.lower() for g in given or ()} - {n.lower() for n in names})
        if unknown:
            parser.error(f"argument --{flag}: no {field} named {', '.join(unknown)}; expected "
                         f"some of {', '.join(names)}")
    wanted_models = None if models is None else {m.lower() for m in models}
    wanted_sets = None if datasets is None else {d.lower() for d in datasets}
    in_models = [wanted_models is None or e.model.lower() in wanted_models for e in ENTRIES]
    on_sets = [wanted_sets is None or e.dataset.lower() in wanted_sets for e in ENTRIES]
    chosen = [e for e, m, d in zip(ENTRIES, in_models, on_sets) if m and d]
    if not chosen:  # both flags given, each matching some rows, never the same one
        theirs = [f"{e.model} on {e.dataset}" for e, m in zip(ENTRIES, in_models) if m]
        parser.error(f"arguments --only and --datasets: no row has {', '.join(models or ())} on "
                     f"{', '.join(datasets or ())}; the rows of those models: "
                     f"{', '.join(theirs)}")
    return chosen


def listing(entries: list[Entry], root: Optional[str]) -> str:
    """``entries`` as a markdown table: model, dataset, metric, the paper's figure
    and its source, and whether the data is found under ``root``."""
    lines = ["| model | dataset | metric | paper | source | data |", "|---|---|---|---|---|---|"]
    for e in entries:
        metric = dataset_info(e.dataset).metric
        paper = format_metric(metric, e.paper) if e.paper is not None else e.note or "—"
        found = "found" if data_root(e, root) is not None else "not found"
        lines.append(f"| {e.model} | {e.dataset} | {metric_label(metric)} | {paper} | "
                     f"{e.source or '—'} | {found} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> list[dict[str, Any]]:
    parser = build_parser()
    args = parser.parse_checked(argv)
    if args.root is not None and not args.download:  # a mistyped root would skip every set
        if not os.path.isdir(args.root):
            parser.error(f"argument --root: no such folder: {args.root}")
        if not any(os.path.isdir(os.path.join(args.root, f)) for f in ("rec", "ogb")):
            parser.error(f"argument --root: {args.root} holds neither rec/ nor ogb/ (give "
                         f"the folder that holds them, or --download to fetch the sets there)")
    selected = select(parser, args.only, args.datasets)
    if args.list:
        print(listing(selected, args.root))
        return []
    if args.download and args.root is None:
        from glt.datasets.planetoid import default_root
        args.root = default_root()
    rows, skipped, failed = [], [], {}
    for entry in selected:
        if args.quick and entry.quick is None:
            skipped.append(f"{entry.model} on {entry.dataset} (not in --quick)")
            continue
        root = data_root(entry, args.root)
        if root is None and args.download:
            if entry.dataset not in failed:
                failed[entry.dataset] = fetch(entry.dataset, args.root)
                if failed[entry.dataset]:
                    print(f"not downloaded: {failed[entry.dataset]}", flush=True)
            root = data_root(entry, args.root)
        if root is None:
            skipped.append(f"{entry.model} on {entry.dataset} (data not found"
                           + ("" if args.download else "; --download fetches it") + ")")
            continue
        print(f"== {entry.model} on {entry.dataset}", flush=True)
        rows.append(run_entry(entry, root, args.quick, args.device, args.out))
        write_json(os.path.join(args.out, "reproduce.json"), rows)  # kept if cut short
    if not rows:
        raise SystemExit("nothing to run: " + "; ".join(skipped))
    text = table(rows, args.quick)
    with open(os.path.join(args.out, "reproduce.md"), "w") as f:
        f.write(text + "\n")
    plot(rows, os.path.join(args.out, "curves.png"))
    print("\n" + text)
    if skipped:
        print("\nskipped: " + "; ".join(skipped))
    print(f"\nwritten: {args.out}/reproduce.md, reproduce.json, curves.png", flush=True)
    return rows
