"""glt's recommendation figures recomputed by the authors' own test code: the
weights of a glt LightGCN or UltraGCN run, scored by glt's ``evaluate`` and by
LightGCN-PyTorch's ``Procedure.Test`` (its model's propagation and sigmoid
scores, its exclusion of training items, its recall and ndcg) or UltraGCN's
``test`` (its mask, top-K and metrics), on the same split; both clocked.

    python benchmarks/eval_authors.py lightgcn --root ../shared/data/rec \\
        --checkpoint ckpt/lightgcn-gowalla/seed2020.pt
    python benchmarks/eval_authors.py ultragcn --root ../shared/data/rec --epochs 1

``--checkpoint`` is a ``glt train MODEL --checkpoint FOLDER`` file (``--weights``:
those of its best evaluation, or of its last finished epoch); without it the
script first trains ``--epochs`` epochs with ``glt train`` (the set's preset,
seed 2020) into a temporary folder.
The authors' snapshots go where ``bench_authors.py`` says. UltraGCN's
``data_param_prepare`` also builds its item-item constraint matrices, which its
test does not use (and which take a dense items x items matrix, 13 GB for
gowalla): the worker replaces its ``get_ii_constraint_mat`` by one returning
nothing, and runs it in a temporary folder so no cache of theirs is written.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

from bench_authors import LIGHTGCN, ULTRAGCN, _enter, _lightgcn_workspace, _stub_tensorboard
from glt.datasets import load_rec
from glt.recipes.recommendation import model_from_checkpoint
from glt.train.args import count
from glt.train.ranking import recommend
from glt.train.recsys import evaluate

METRICS = ("recall@20", "ndcg@20", "precision@20")


def authors_lightgcn(root: str, dataset: str, layers: int, user_emb, item_emb) -> dict:
    """LightGCN-PyTorch's ``Procedure.Test`` (``layers`` layers, its test batches
    of 100 users, top-20) on its model holding ``user_emb`` / ``item_emb``: as
    written (``authors``), and with its model's sigmoid replaced by the identity
    (``authors-raw``: the raw scores that glt ranks)."""
    _enter(LIGHTGCN if dataset == "gowalla" else _lightgcn_workspace(root, dataset))
    sys.argv = ["main.py", "--dataset", "gowalla", "--layer", str(layers), "--recdim",
                str(user_emb.size(1)), "--tensorboard", "0", "--topks", "[20]"]
    import Procedure  # noqa: E402 - the authors' modules, found through sys.path
    import register
    import world
    model = register.MODELS[world.model_name](world.config, register.dataset)
    _copy(model.embedding_user.weight, user_emb, "users")
    _copy(model.embedding_item.weight, item_emb, "items")
    rows = {}
    for side in ("authors", "authors-raw"):
        if side == "authors-raw":
            model.f = torch.nn.Identity()
        t0 = time.perf_counter()
        got = Procedure.Test(register.dataset, model, 0, None, 0)
        rows[side] = {"seconds": time.perf_counter() - t0, "recall@20": float(got["recall"][0]),
                      "ndcg@20": float(got["ndcg"][0]),
                      "precision@20": float(got["precision"][0])}
    return rows


def authors_ultragcn(dataset: str, user_emb, item_emb) -> dict:
    """UltraGCN's ``test`` (its mask of training items, its test batches and
    top-K, averaged over all users as it does) on its model holding the weights."""
    work = tempfile.mkdtemp(prefix="ultragcn-eval-")
    atexit.register(shutil.rmtree, work, True)
    os.symlink(os.path.join(ULTRAGCN, "data"), os.path.join(work, "data"))
    shutil.copy(os.path.join(ULTRAGCN, f"{dataset}_config.ini"), work)
    _stub_tensorboard()
    sys.path.insert(0, ULTRAGCN)
    os.chdir(work)
    import main as ultra  # noqa: E402 - the authors' module, found through sys.path
    ultra.get_ii_constraint_mat = lambda *args, **kwargs: (None, None)
    (params, constraint_mat, _, _, _, test_loader, mask, truth,
     _) = ultra.data_param_prepare(f"{dataset}_config.ini")
    model = ultra.UltraGCN(params, constraint_mat, None, None)
    _copy(model.user_embeds.weight, user_emb, "users")
    _copy(model.item_embeds.weight, item_emb, "items")
    t0 = time.perf_counter()
    _, precision, recall, ndcg = ultra.test(model, test_loader, truth, mask, params["topk"],
                                            params["user_num"])
    return {"authors": {"seconds": time.perf_counter() - t0, "recall@20": float(recall),
                        "ndcg@20": float(ndcg), "precision@20": float(precision)}}


def sigmoid_ties(model, data) -> dict:
    """Shares of the test's users whose 21 best unseen scores hold a tie: as
    raw float32 scores (glt's ranking) and as float32 ``sigmoid`` of them."""
    with torch.no_grad():
        users = torch.nonzero(data.test.out_degree() > 0).view(-1)
        _, scores = recommend(model.scorer(), users, data.num_items, k=21, exclude=data.train)

    def share(s: torch.Tensor) -> float:
        return float((s[:, 1:] == s[:, :-1]).any(1).float().mean())
    return {"raw": share(scores), "sigmoid": share(torch.sigmoid(scores)),
            "at_one": float((torch.sigmoid(scores[:, :20]) == 1).sum(1).gt(1).float().mean())}


def _copy(dst: torch.nn.Parameter, src: torch.Tensor, what: str) -> None:
    if dst.shape != src.shape:
        raise SystemExit(f"the authors' code reads {dst.size(0)} {what} of dim {dst.size(1)}, "
                         f"glt's weights hold {src.size(0)} of dim {src.size(1)}")
    with torch.no_grad():
        dst.copy_(src)


def _train(model: str, dataset: str, root: str, epochs: int) -> str:
    """A checkpoint of ``epochs`` epochs of ``glt train`` (the set's preset)."""
    folder = tempfile.mkdtemp(prefix=f"glt-{model}-")
    atexit.register(shutil.rmtree, folder, True)
    subprocess.run([sys.executable, "-m", "glt", "train", model, "--dataset", dataset,
                    "--root", root, "--epochs", str(epochs), "--quiet", "--checkpoint", folder,
                    "--out", os.path.join(folder, "run.json")], check=True)
    return os.path.join(folder, "seed2020.pt")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=("lightgcn", "ultragcn"))
    p.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "shared", "data", "rec"))
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--checkpoint", help="a glt train checkpoint file of this model and set")
    p.add_argument("--weights", choices=("best", "last"), default="best", help="the "
                   "checkpoint's best evaluation's weights or its last epoch's")
    p.add_argument("--epochs", type=count, default=1, help="epochs to train without --checkpoint")
    args = p.parse_args()
    root = os.path.abspath(args.root)
    path = os.path.abspath(args.checkpoint or _train(args.model, args.dataset, root,
                                                     args.epochs))
    data = load_rec(args.dataset, root, download=False)
    model = model_from_checkpoint(path, data, args.weights).eval()
    if args.model == "lightgcn":
        user_emb, item_emb = model.embedding.detach().split([data.num_users, data.num_items])
    else:
        user_emb, item_emb = model.user_embedding.detach(), model.item_embedding.detach()
    t0 = time.perf_counter()
    ours = evaluate(model, data, ks=(20,))
    ours["seconds"] = time.perf_counter() - t0
    theirs = (authors_lightgcn(root, args.dataset, model.num_layers, user_emb, item_emb)
              if args.model == "lightgcn" else authors_ultragcn(args.dataset, user_emb, item_emb))
    rows = {"glt": ours, **theirs}
    print(f"{args.model} on {args.dataset}, the {args.weights} weights of {path}")
    for side, r in rows.items():
        print(f"  {side:11} " + "  ".join(f"{m} {r[m]:.6f}" for m in METRICS)
              + f"  ({r['seconds']:.1f} s)")
    same = "authors-raw" if "authors-raw" in rows else "authors"  # the scores glt ranks
    worst = max(abs(ours[m] - rows[same][m]) for m in METRICS)
    print(f"  glt vs {same}: largest difference {worst:.2e}, "
          f"{'agree' if worst <= 1e-4 else 'DIFFER'}; glt's evaluation "
          f"{rows[same]['seconds'] / ours['seconds']:.1f}x the authors' test")
    if same != "authors":
        print("  the authors' test as written, minus glt's: " + "  ".join(
            f"{m} {rows['authors'][m] - ours[m]:+.6f}" for m in METRICS))
        ties = sigmoid_ties(model, data)
        print(f"  users whose 21 best unseen scores tie: {ties['raw']:.2%} as scores, "
              f"{ties['sigmoid']:.2%} as float32 sigmoids ({ties['at_one']:.2%} with two or "
              "more top-20 sigmoids at exactly 1.0); top-K orders ties arbitrarily")
    if worst > 1e-4:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
