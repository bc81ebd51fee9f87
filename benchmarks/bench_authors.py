"""glt against the papers' own code, run unmodified from a snapshot of the
authors' repository, on the same data and settings.

So far: LightGCN (gusye1234/LightGCN-PyTorch), one gowalla training epoch of
its ``Procedure.BPR_train_original`` (its sampler, its batches of 2048, its
``torch.sparse.mm`` propagation) against one of glt's, both from the paper's
settings (3 layers, dim 64, lr 1e-3, decay 1e-4), each in its own subprocess.

The authors' code is not part of glt. Put a snapshot beside this script, in the
gitignored ``benchmarks/authors/`` folder, with the real split in its data
folder, and install what its imports need (``tensorboardX``)::

    mkdir -p benchmarks/authors/LightGCN-PyTorch/data/gowalla
    git clone https://github.com/gusye1234/LightGCN-PyTorch /tmp/lgn   # commit 947ca2b
    cp -r /tmp/lgn/code benchmarks/authors/LightGCN-PyTorch/
    cp ../shared/data/rec/gowalla/*.txt benchmarks/authors/LightGCN-PyTorch/data/gowalla/
    pip install tensorboardX
    python benchmarks/bench_authors.py --root ../shared/data/rec
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIGHTGCN = os.path.join(HERE, "authors", "LightGCN-PyTorch", "code")


def authors_lightgcn_epoch() -> dict:
    """One epoch of LightGCN-PyTorch's own training function, in this process."""
    os.chdir(LIGHTGCN)
    sys.path.insert(0, LIGHTGCN)
    sys.argv = ["main.py", "--dataset", "gowalla", "--layer", "3", "--recdim", "64",
                "--bpr_batch", "2048", "--lr", "0.001", "--decay", "1e-4", "--tensorboard", "0",
                "--seed", "2020"]
    import Procedure  # noqa: E402 - the authors' modules, found through sys.path
    import register
    import utils
    import world
    utils.set_seed(world.seed)
    model = register.MODELS[world.model_name](world.config, register.dataset).to(world.device)
    bpr = utils.BPRLoss(model, world.config)
    t0 = time.perf_counter()
    info = Procedure.BPR_train_original(register.dataset, model, bpr, 0)
    return {"seconds_per_epoch": time.perf_counter() - t0, "info": info,
            "compiled_sampler": bool(utils.sample_ext)}


def glt_lightgcn_epoch(root: str) -> dict:
    """One whole gowalla epoch of glt's LightGCN with the same settings."""
    import torch
    from glt.datasets import load_rec
    from glt.models import LightGCN
    from glt.samplers import NegativeSampler
    data = load_rec("gowalla", root, download=False)
    torch.manual_seed(2020)
    model = LightGCN(data.bipartite(), data.num_users, dim=64, num_layers=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = NegativeSampler(data.train)
    gen = torch.Generator().manual_seed(2020)
    t0 = time.perf_counter()
    for batch in model.batches(sampler, 2048, gen):
        opt.zero_grad()
        model.loss(*batch).backward()
        opt.step()
    return {"seconds_per_epoch": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=os.path.join(HERE, "..", "..", "shared", "data", "rec"))
    p.add_argument("--worker", choices=["glt", "authors"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        out = (glt_lightgcn_epoch(args.root) if args.worker == "glt"
               else authors_lightgcn_epoch())
        print(json.dumps(out))
        return
    if not os.path.isdir(LIGHTGCN):
        raise SystemExit(f"no snapshot of LightGCN-PyTorch's code at {LIGHTGCN}; see this "
                         "script's docstring for how to put it there")
    rows = {}
    for who in ("glt", "authors"):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", who, "--root",
               os.path.abspath(args.root)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows[who] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{who:8} {rows[who]['seconds_per_epoch']:8.1f} s per gowalla epoch", flush=True)
    ratio = rows["authors"]["seconds_per_epoch"] / rows["glt"]["seconds_per_epoch"]
    print(f"LightGCN: glt {ratio:.2f}x LightGCN-PyTorch's own code "
          f"(its sampler compiled: {rows['authors']['compiled_sampler']})")


if __name__ == "__main__":
    main()
