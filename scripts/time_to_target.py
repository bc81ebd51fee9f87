"""Time to target: for each run of a glt run report, the first evaluated epoch whose
selection figure (recall@20 for the recommendation models) reaches ``--target``, and
the training seconds up to it (summed from the report's per-epoch history where it
has one, with the median epoch's seconds times the epochs beside the sum: a run paused
or resumed mid-epoch counts the pause in that epoch; else the run's training seconds
prorated to that epoch); beside it, the
same read from a log of the UltraGCN authors' ``main.py`` (its
``benchmarks/UltraGCN_<set>_x0.md`` logs: one ``The time for epoch N is: train time
= H: M: S`` line and one ``Recall: R`` line per evaluated epoch; epochs between two
evaluations are counted at the next evaluated epoch's time; its epochs are numbered
from 0, so its ``epoch N`` is reported as N + 1, the epochs trained, as glt counts
them). ``--curve N`` prints, for the
first N evaluations of the authors' log, both sides' figure after as many epochs.

    python scripts/time_to_target.py REPORT.json --target 0.2787 [--authors-log LOG.md]
        [--curve 12]
"""
from __future__ import annotations

import argparse
import re
import statistics
from typing import Optional

from glt.recipes.report import read_report
from glt.train.args import existing_file, non_negative_int, rate

_TIME = re.compile(r"The time for epoch (\d+) is: train time = (\d+): (\d+): (\d+)")
_RECALL = re.compile(r"Recall: ([0-9.]+)")


def authors_curve(path: str) -> list[tuple[int, float, float]]:
    """``(epochs trained, recall, training seconds up to and including them)`` per
    evaluation (the log's ``epoch N`` is N + 1 epochs trained)."""
    points: list[tuple[int, float, float]] = []
    epoch, total, last = None, 0.0, -1
    with open(path) as f:
        for line in f:
            if m := _TIME.search(line):
                epoch = int(m.group(1))
                each = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))
                total += each * (epoch - last)
                last = epoch
            elif (m := _RECALL.search(line)) and epoch is not None:
                points.append((epoch + 1, float(m.group(1)), total))
                epoch = None
    if not points:
        raise SystemExit(f"{path}: no 'The time for epoch' / 'Recall:' lines found")
    return points


def _first(points: list[tuple[int, float, float]], target: float
           ) -> Optional[tuple[int, float, float]]:
    return next((p for p in points if p[1] >= target), None)


def _print_curves(report, points: list[tuple[int, float, float]]) -> None:
    """Each run's figure beside the authors' after the same number of epochs (or,
    marked with its epoch, at glt's nearest evaluation: the two evaluate at
    different epochs)."""
    print(f"  epochs trained | authors' {report.metric} | "
          + " | ".join(f"glt seed {run.seed}" for run in report.runs))
    for epoch, value, _ in points:
        ours = []
        for run in report.runs:
            near = min(run.curve, key=lambda q: abs(q[0] - epoch), default=None)
            ours.append("-" if near is None else f"{near[1]:.5f}" if near[0] == epoch
                        else f"{near[1]:.5f} (epoch {near[0]})")
        print(f"  {epoch} | {value:.5f} | " + " | ".join(ours))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=existing_file)
    p.add_argument("--target", type=rate, required=True)
    p.add_argument("--authors-log", type=existing_file, help="the authors' log, e.g. "
                   "benchmarks/UltraGCN_gowalla_x0.md of xue-pai/UltraGCN")
    p.add_argument("--curve", type=non_negative_int, default=0, metavar="N",
                   help="with --authors-log: both curves at the log's first N evaluations")
    args = p.parse_args()
    report = read_report(args.report)
    histories = report.extra.get("histories") or [None] * len(report.runs)
    print(f"{report.model} on {report.dataset}, {report.metric} >= {args.target}:")
    for run, history in zip(report.runs, histories):
        best = max((v for _, v in run.curve), default=float("nan"))
        epoch = run.first_reaching(args.target)
        if epoch is None:
            where = f"not reached in {run.epochs} epochs (best {best:.4f})"
        elif history:
            spent = sum(h["seconds"] for h in history if h["epoch"] <= epoch)
            median = statistics.median(h["seconds"] for h in history)
            where = (f"epoch {epoch}, {spent:.0f} s of training (median epoch {median:.1f} s"
                     f" x {epoch} = {median * epoch:.0f} s)")
        else:
            spent = run.seconds * epoch / max(run.epochs, 1)
            where = f"epoch {epoch}, about {spent:.0f} s of training (prorated)"
        print(f"  glt seed {run.seed}: {where}; {report.hardware}")
    if args.authors_log:
        points = authors_curve(args.authors_log)
        hit = _first(points, args.target)
        best = max(points, key=lambda q: q[1])
        where = (f"epoch {hit[0]}, {hit[2]:.0f} s of training" if hit
                 else f"not reached (best {best[1]:.4f} at epoch {best[0]})")
        print(f"  authors' log: {where}")
        if args.curve:
            _print_curves(report, points[:args.curve])


if __name__ == "__main__":
    main()
