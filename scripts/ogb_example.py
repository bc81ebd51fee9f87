"""Run OGB's own link-prediction example (``examples/linkproppred/<set>/gnn.py``
of snap-stanford/ogb) on a release on disk, as the leaderboard's baseline
figures were made, to compare its curves with glt's ``glt train link``.

The example is not part of glt: put a snapshot of its folder in the gitignored
``benchmarks/authors/ogb/`` (``git clone https://github.com/snap-stanford/ogb``,
commit 61e9784, then copy ``examples/linkproppred/ddi``). The release is copied
to a scratch folder first (ogb writes ``processed/`` beside it). Changes made at
run time, none to the example's files:

- ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``: ogb 1.3.6's loader reads the release's
  legacy split files with ``torch.load``, which torch >= 2.6 refuses by default.
  Only for OGB's own release files, which this unpickles.
- without ``torch_sparse``, PyG's ``ToSparseTensor`` gives a ``torch.sparse_csr``
  tensor; the example calls ``adj_t.coo()`` (a ``torch_sparse`` method), so
  ``torch.Tensor.coo`` returns its ``(row, col, None)``.

    python scripts/ogb_example.py --root ../shared/data/ogb -- --use_sage --runs 1 --epochs 100

``--log LOG --against REPORT.json`` reads such a run's output instead and sets its
validation curve (the ``Hits@K`` of the report's metric) beside each run of a
``glt train link`` report: per evaluation, the example's figure and the range of
glt's runs, and each side's highest figure up to the example's last epoch.
"""
from __future__ import annotations

import argparse
import os
import re
import runpy
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "benchmarks", "authors", "ogb", "examples", "linkproppred")


def _coo(self):
    """``torch_sparse.SparseTensor.coo()`` for a torch sparse tensor."""
    row, col = self.to_sparse_coo().indices()
    return row, col, None


def example_curve(path: str, metric: str) -> dict[int, float]:
    """``{epoch: validation figure in %}`` of run 1 from the example's output."""
    head = metric.replace("hits@", "Hits@")
    with open(path) as f:
        lines = f.read().splitlines()
    curve = {}
    for line, following in zip(lines, lines[1:]):
        m = re.search(r"Run: 01, Epoch: (\d+), .*Valid: ([\d.]+)%", following)
        if line.strip() == head and m:
            curve[int(m.group(1))] = float(m.group(2))
    if not curve:
        raise SystemExit(f"{path}: no '{head}' / 'Run: 01, Epoch: ...' lines found")
    return curve


def compare(log: str, report_path: str) -> None:
    """Print the example's curve in ``log`` against the runs of a glt report."""
    from glt.recipes.report import read_report
    report = read_report(report_path)
    ours = [{e: 100 * v for e, v in run.curve} for run in report.runs]
    theirs = example_curve(log, report.metric)
    last = max(theirs)
    print(f"epoch | OGB's example | glt's {len(ours)} runs (min-max) | inside")
    for epoch, value in sorted(theirs.items()):
        got = [c[epoch] for c in ours if epoch in c]
        if got:
            inside = "yes" if min(got) <= value <= max(got) else "no"
            print(f"{epoch} | {value:.2f} | {min(got):.2f}-{max(got):.2f} | {inside}")
    best = [max(v for e, v in c.items() if e <= last) for c in ours]
    print(f"highest validation {report.metric} up to epoch {last}: OGB's example "
          f"{max(theirs.values()):.2f}; glt {min(best):.2f}-{max(best):.2f} "
          f"(mean {sum(best) / len(best):.2f}, seeds {[run.seed for run in report.runs]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="folder holding ogbl_<set>/")
    parser.add_argument("--dataset", default="ddi", help="the example folder's name")
    parser.add_argument("args", nargs="*", help="the example's own arguments, after --")
    parser.add_argument("--log", help="the output of an earlier run of the example")
    parser.add_argument("--against", help="with --log: a glt train link report (JSON)")
    args = parser.parse_args()
    if args.log or args.against:
        if not (args.log and args.against):
            sys.exit("--log and --against go together")
        compare(args.log, args.against)
        return
    if not args.root:
        sys.exit("--root is needed to run the example")
    folder = os.path.abspath(os.path.join(EXAMPLES, args.dataset))
    if not os.path.exists(os.path.join(folder, "gnn.py")):
        sys.exit(f"no {folder}/gnn.py: place OGB's example there (see this script's docstring)")
    release = os.path.join(args.root, f"ogbl_{args.dataset}")
    scratch = tempfile.mkdtemp(prefix="ogb-example-")
    # the example loads PygLinkPropPredDataset with its default root, "dataset"
    shutil.copytree(release, os.path.join(scratch, "dataset", f"ogbl_{args.dataset}"),
                    ignore=shutil.ignore_patterns("processed"), copy_function=shutil.copyfile)
    for path, _, _ in os.walk(scratch):  # the copied folders keep a read-only release's modes
        os.chmod(path, 0o755)
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    import torch
    torch.Tensor.coo = _coo
    os.chdir(scratch)
    sys.path.insert(0, folder)
    sys.argv = [os.path.join(folder, "gnn.py"), *args.args]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
