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
"""
from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="folder holding ogbl_<set>/")
    parser.add_argument("--dataset", default="ddi", help="the example folder's name")
    parser.add_argument("args", nargs="*", help="the example's own arguments, after --")
    args = parser.parse_args()
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
