"""glt against the papers' own code, run from a snapshot of the authors'
repository, on the same data and settings.

- LightGCN (gusye1234/LightGCN-PyTorch, commit 947ca2b): one gowalla training
  epoch of its ``Procedure.BPR_train_original`` (its sampler, batches of 2048,
  ``torch.sparse.mm`` propagation) against one of glt's (3 layers, dim 64, lr
  1e-3, decay 1e-4); ``lightgcn-ml1m`` the same on ml-1m, which its loader reads
  from a copy of its code folder beside a ``data/gowalla`` holding ml-1m's split.
- UltraGCN (xue-pai/UltraGCN, commit b220010): its ``main.py`` training step (its
  DataLoader, its ``Sampling`` of 1500 negatives per pair, its loss and Adam) on
  gowalla with its ``gowalla_config.ini``, against glt's with the same preset:
  their ``--batches`` steps timed and extrapolated to an epoch, a whole epoch of
  glt's; ``ultragcn-ml1m`` the same on ml-1m with its ``ml-1m_config.ini``. Where
  both ``lightgcn`` and ``ultragcn`` run, the ratio of glt's two gowalla epochs
  is printed too.
- LA-GNN (SongtaoLiu0823/LAGNN, commit af44b53): its ``Citation/lagcn.py`` with
  ``semi.sh``'s Cora settings against ``glt train lagnn --model gcn``, both on the
  same generator (glt's, also written in the LA-GNN code's format), 220 epochs
  each; its seconds per epoch from the times its ``Epoch`` lines 20 and 220
  arrive, glt's from its run report (both without start-up).
  ``lagnn-pretrain``: the generator's pretraining
  with the paper's selection, the LA-GNN code's ``cvae_generate_citation.py``
  against glt's: glt's whole script; theirs clocked over ``--batches`` CVAE steps
  and extrapolated to its 10 epochs.
- LargeGT (snap-research/LargeGT, commit 5323269): its ``LargeGT`` model
  (``--conv_type full``, the ogbn-products command of ``docs/03_reproduce.md``:
  hidden 256, global 64, 2 heads, 4096 centroids, K=100) against glt's
  ``PaperLargeGT`` (their layout, the same size) and glt's own ``LargeGT`` with
  the same sizes, training steps on the same token batches of glt's seeded
  ogbn-products-sized graph at ``--largegt-scale`` and of Cora; after its steps
  the authors' worker loads its trained weights, codebook and assignments into a
  ``PaperLargeGT`` and both score a batch in evaluation mode (the losses must
  agree). And its token
  preparation (``data_utils.create_node_ids``: ``A @ A``, per-node sampling,
  hop features) against glt's (``hop_features`` and ``TokenSampler``) on Cora
  and the graph at ``--prep-scale``.

Before any time counts, each authors' worker scores one of its own batches with
its model and with glt's from the same weights: the losses must agree.

The authors' code is not part of glt. Put snapshots beside this script, in the
gitignored ``benchmarks/authors/`` folder, with the real splits in their data
folders, and install what their imports need::

    mkdir -p benchmarks/authors/LightGCN-PyTorch/data/gowalla
    git clone https://github.com/gusye1234/LightGCN-PyTorch /tmp/lgn   # commit 947ca2b
    cp -r /tmp/lgn/code benchmarks/authors/LightGCN-PyTorch/
    cp ../shared/data/rec/gowalla/*.txt benchmarks/authors/LightGCN-PyTorch/data/gowalla/
    pip install tensorboardX
    mkdir -p benchmarks/authors/UltraGCN/data/gowalla
    git clone https://github.com/xue-pai/UltraGCN /tmp/ugcn              # commit b220010
    cp /tmp/ugcn/main.py /tmp/ugcn/*_config.ini benchmarks/authors/UltraGCN/
    cp -r /tmp/ugcn/data/ml-1m benchmarks/authors/UltraGCN/data/
    cp ../shared/data/rec/gowalla/*.txt benchmarks/authors/UltraGCN/data/gowalla/
    git clone https://github.com/SongtaoLiu0823/LAGNN /tmp/lagnn              # commit af44b53
    mkdir -p benchmarks/authors/LAGNN && cp -r /tmp/lagnn/Citation benchmarks/authors/LAGNN/
    python benchmarks/bench_authors.py --root ../shared/data/rec

UltraGCN's ``main.py`` imports ``torch.utils.tensorboard`` at module level; the
worker puts a stub module there first (TensorBoard is not installed, and the
timed code never writes to it). The LA-GNN code's ``torch.load`` of its generator
runs with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (torch >= 2.6 loads weights only
by default; the file is glt's own generator); its pretraining script runs with
``networkx.adjacency_matrix`` returning a scipy matrix as networkx < 3 did (it
indexes the matrix's rows). LargeGT's ``data_utils`` imports
``ogb.nodeproppred.DglNodePropPredDataset`` (DGL is not installed, and the timed
code does not use it): the worker sets that name to None first. Nothing of the
authors' code is changed.
"""
from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
from typing import Optional

from _memory import reset_peak, status_mb

HERE = os.path.dirname(os.path.abspath(__file__))
LIGHTGCN = os.path.join(HERE, "authors", "LightGCN-PyTorch", "code")
ULTRAGCN = os.path.join(HERE, "authors", "UltraGCN")
LAGNN = os.path.join(HERE, "authors", "LAGNN", "Citation")
LARGEGT = os.path.join(HERE, "authors", "LargeGT")


def _enter(folder: str) -> None:
    """Run the authors' modules as their scripts do: from their folder."""
    os.chdir(folder)
    sys.path.insert(0, folder)


def _lightgcn_workspace(root: str, dataset: str) -> str:
    """LightGCN-PyTorch's code folder beside ``data/gowalla`` holding ``dataset``'s
    split: its loader knows four set names, and reads any LightGCN-format folder
    under one of them. Users with no training item are left out of ``train.txt``
    (its loader takes the ``max`` of each line's items); they add no edge."""
    work = tempfile.mkdtemp(prefix=f"lightgcn-{dataset}-")
    atexit.register(shutil.rmtree, work, True)
    shutil.copytree(LIGHTGCN, os.path.join(work, "code"),
                    ignore=shutil.ignore_patterns("checkpoints", "runs"))
    data = os.path.join(work, "data", "gowalla")
    os.makedirs(data)
    with open(os.path.join(root, dataset, "train.txt")) as src, \
            open(os.path.join(data, "train.txt"), "w") as dst:
        dst.writelines(line for line in src if len(line.split()) > 1)
    shutil.copy(os.path.join(root, dataset, "test.txt"), data)
    return os.path.join(work, "code")


def authors_lightgcn(root: str, batches: int, dataset: str = "gowalla") -> dict:
    """One epoch of LightGCN-PyTorch's own training function, in this process,
    after one of its batches is scored by its model and by glt's."""
    _enter(LIGHTGCN if dataset == "gowalla" else _lightgcn_workspace(root, dataset))
    sys.argv = ["main.py", "--dataset", "gowalla", "--layer", "3", "--recdim", "64",
                "--bpr_batch", "2048", "--lr", "0.001", "--decay", "1e-4", "--tensorboard", "0",
                "--seed", "2020"]
    import torch

    import Procedure  # noqa: E402 - the authors' modules, found through sys.path
    import register
    import utils
    import world
    utils.set_seed(world.seed)
    model = register.MODELS[world.model_name](world.config, register.dataset).to(world.device)
    bpr = utils.BPRLoss(model, world.config)
    triples = torch.from_numpy(utils.UniformSample_original(register.dataset)).long()[:2048]
    users, pos, neg = triples.t()
    loss, reg = model.bpr_loss(users, pos, neg)
    theirs = float(loss + reg * world.config["decay"])
    ours = _glt_lightgcn_loss(root, dataset, model.embedding_user.weight,
                              model.embedding_item.weight, users, pos, neg)
    t0 = time.perf_counter()
    info = Procedure.BPR_train_original(register.dataset, model, bpr, 0)
    return {"seconds_per_epoch": time.perf_counter() - t0, "info": info,
            "compiled_sampler": bool(utils.sample_ext), "loss_authors": theirs,
            "loss_glt": ours, "peak_mb": status_mb("VmHWM")}


def _glt_lightgcn_loss(root: str, dataset: str, user_emb, item_emb, users, pos, neg) -> float:
    import torch

    from glt.datasets import load_rec
    from glt.models import LightGCN
    data = load_rec(dataset, root, download=False)
    model = LightGCN(data.bipartite(), data.num_users, dim=64, num_layers=3)
    with torch.no_grad():
        model.embedding.copy_(torch.cat([user_emb, item_emb]))
    return float(model.loss(users, pos, neg))


def glt_lightgcn(root: str, batches: int, dataset: str = "gowalla") -> dict:
    """One whole epoch of glt's LightGCN with the same settings."""
    import torch

    from glt.datasets import load_rec
    from glt.models import LightGCN
    from glt.samplers import NegativeSampler
    from glt.train.recsys import adam
    data = load_rec(dataset, root, download=False)
    torch.manual_seed(2020)
    model = LightGCN(data.bipartite(), data.num_users, dim=64, num_layers=3)
    opt = adam(model.parameters(), 1e-3)  # what glt's training loop uses
    sampler = NegativeSampler(data.train)
    gen = torch.Generator().manual_seed(2020)
    t0 = time.perf_counter()
    for batch in model.batches(sampler, 2048, gen):
        opt.zero_grad()
        model.loss(*batch).backward()
        opt.step()
    return {"seconds_per_epoch": time.perf_counter() - t0, "peak_mb": status_mb("VmHWM")}


def _per_step(step, batches: int) -> float:
    """Seconds per call of ``step()`` over ``batches`` calls after one warm-up."""
    step()
    t0 = time.perf_counter()
    for _ in range(batches):
        step()
    return (time.perf_counter() - t0) / batches


def _stub_tensorboard() -> None:
    stub = types.ModuleType("torch.utils.tensorboard")
    stub.SummaryWriter = None
    sys.modules["torch.utils.tensorboard"] = stub


def authors_ultragcn(root: str, batches: int, dataset: str = "gowalla") -> dict:
    """``batches`` training steps of UltraGCN's ``main.py`` (its loader, sampling,
    loss and Adam), after one of its batches is scored by its model and by glt's."""
    _enter(ULTRAGCN)
    _stub_tensorboard()
    import numpy as np
    import torch

    import main as ultra  # noqa: E402 - the authors' module, found through sys.path
    t0 = time.perf_counter()
    (params, constraint_mat, ii_constraint_mat, ii_neighbor_mat, train_loader, _, _, _,
     interacted) = ultra.data_param_prepare(f"{dataset}_config.ini")
    setup = time.perf_counter() - t0
    torch.manual_seed(0)
    np.random.seed(0)
    model = ultra.UltraGCN(params, constraint_mat, ii_constraint_mat, ii_neighbor_mat)
    model = model.to(params["device"])
    opt = torch.optim.Adam(model.parameters(), lr=params["lr"])
    loader = iter(train_loader)

    def sample() -> tuple:
        return ultra.Sampling(next(loader), params["item_num"], params["negative_num"],
                              interacted, params["sampling_sift_pos"])
    users, pos, neg = sample()
    theirs = float(model(users, pos, neg))
    ours = _glt_ultragcn_loss(root, dataset, model.user_embeds.weight,
                              model.item_embeds.weight, users, pos, neg)

    def step() -> None:
        users, pos, neg = sample()
        model.zero_grad()
        model(users, pos, neg).backward()
        opt.step()
    per_batch = _per_step(step, batches)
    return {"seconds_per_batch": per_batch, "batches_per_epoch": len(train_loader),
            "seconds_per_epoch": per_batch * len(train_loader), "setup_seconds": setup,
            "loss_authors": theirs, "loss_glt": ours, "peak_mb": status_mb("VmHWM")}


def _ultragcn_settings(dataset: str) -> dict:
    from glt.recipes.recommendation import TRAIN_KEYS, ULTRAGCN_PRESETS
    return {k: v for k, v in ULTRAGCN_PRESETS[dataset].items() if k not in TRAIN_KEYS}


def _glt_ultragcn_loss(root: str, dataset: str, user_emb, item_emb, users, pos, neg) -> float:
    import torch

    from glt.datasets import load_rec
    from glt.models.ultragcn import UltraGCN
    data = load_rec(dataset, root, download=False)
    model = UltraGCN(data.train, **_ultragcn_settings(dataset))
    with torch.no_grad():
        model.user_embedding.copy_(user_emb)
        model.item_embedding.copy_(item_emb)
        return float(model.loss(users, pos, neg))


def glt_ultragcn(root: str, batches: int, dataset: str = "gowalla") -> dict:
    """One whole epoch of glt's UltraGCN with the dataset's preset (its batches,
    negatives, loss and Adam), after ``min(batches, 5)`` warm-up steps."""
    import torch

    from glt.datasets import load_rec
    from glt.models.ultragcn import UltraGCN
    from glt.recipes.recommendation import ULTRAGCN_PRESETS
    from glt.samplers import NegativeSampler
    from glt.train.recsys import adam
    data = load_rec(dataset, root, download=False)
    preset = ULTRAGCN_PRESETS[dataset]
    torch.manual_seed(0)
    # as glt's training loop: the L2 term's gradient inside Adam's update
    model = UltraGCN(data.train, **_ultragcn_settings(dataset), l2_in_optimizer=True)
    opt = adam(model.parameters(), preset["lr"], model.weight_decay)
    sampler, gen = NegativeSampler(data.train), torch.Generator().manual_seed(0)

    def epoch(limit: Optional[int] = None) -> int:
        steps = 0
        for batch in model.batches(sampler, preset["batch_size"], gen):
            opt.zero_grad()
            model.loss(*batch).backward()
            opt.step()
            steps += 1
            if steps == limit:
                break
        return steps
    epoch(min(batches, 5))
    t0 = time.perf_counter()
    steps = epoch()
    seconds = time.perf_counter() - t0
    return {"seconds_per_batch": seconds / steps, "batches_per_epoch": steps,
            "seconds_per_epoch": seconds, "peak_mb": status_mb("VmHWM")}


def _timed(cmd: list[str], cwd: str) -> tuple[float, str]:
    # the LA-GNN code loads its generator with torch.load's defaults of its time:
    # torch >= 2.6 loads weights only unless told otherwise (the file here is glt's own)
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def _lagnn_workspace() -> tuple[str, str]:
    """A copy of the LA-GNN code's Citation folder with a generator in its
    ``model/cora.pkl`` (glt's, written in the code's format), and the same
    generator in glt's format."""
    import torch

    from glt.datasets import load_planetoid
    from glt.models.lagnn import CVAE, train_cvae, write_lagnn_code_generator
    work = tempfile.mkdtemp(prefix="glt-lagnn-")
    code = os.path.join(work, "Citation")
    shutil.copytree(LAGNN, code)
    os.makedirs(os.path.join(code, "model"), exist_ok=True)
    cora = load_planetoid("cora")
    torch.manual_seed(0)
    cvae = CVAE(cora.num_features)
    train_cvae(cvae, cora.x, cora.graph, epochs=1)
    cvae.eval()
    write_lagnn_code_generator(cvae, os.path.join(code, "model", "cora.pkl"))
    ours = os.path.join(work, "cvae_cora.pt")
    cvae.save(ours)
    return code, ours


def _epoch_clock(cmd: list[str], cwd: str, first: int, last: int) -> tuple[float, str]:
    """Seconds per epoch of a script that prints ``Epoch: NNNN`` lines, from the
    times its lines for epochs ``first`` and ``last`` arrive (start-up and the
    final evaluation excluded), and its output."""
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", PYTHONUNBUFFERED="1")
    seen, lines = {}, []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Epoch: "):
                seen[int(line.split()[1])] = time.perf_counter()
    if proc.returncode or first not in seen or last not in seen:
        raise SystemExit(f"{' '.join(cmd)} failed or printed no epochs {first}-{last}")
    return (seen[last] - seen[first]) / (last - first), lines[-1]


def lagnn_rows(root: str, batches: int, runs: int = 1, epochs: int = 220) -> dict:
    """Cora LA-GCN seconds per epoch (training step and validation pass) of the
    LA-GNN code's ``lagcn.py`` and of glt's recipe on the same generator, and the
    test accuracy each reaches after ``epochs`` epochs (``semi.sh``: 2000), each
    run's model of the lowest validation loss (mean and std over ``runs``)."""
    code, generator = _lagnn_workspace()
    theirs, last = _epoch_clock([sys.executable, "lagcn.py", "--dataset", "cora", "--epochs",
                                 str(epochs), "--hidden", "8", "--concat", "1", "--samples", "4",
                                 "--lr", "0.01", "--runs", str(runs)], code, 20, epochs)
    out = os.path.join(os.path.dirname(code), "glt.json")
    _timed([sys.executable, "-m", "glt", "train", "lagnn", "--model", "gcn", "--runs", str(runs),
            "--epochs", str(epochs), "--generator", generator, "--quiet", "--out", out], code)
    with open(out) as f:
        report = json.load(f)
    # its seconds: the training loop's, start-up excluded
    seconds = sum(r["seconds"] / r["epochs"] for r in report["runs"]) / runs
    shutil.rmtree(os.path.dirname(code))
    # their last line: mean and std (numpy's, ddof 0) of validation, then of test; the
    # std made unbiased as glt's report gives it
    _, _, test, test_std = (float(v) for v in last.split()[:4])
    test_std *= (runs / (runs - 1)) ** 0.5 if runs > 1 else 0.0
    return {"authors": {"seconds_per_epoch": theirs, "test": test, "test_std": test_std},
            "glt": {"seconds_per_epoch": seconds, "test": report["test_mean"],
                    "test_std": report["test_std"]}}


# networkx >= 3 returns a sparse array from adjacency_matrix, whose rows are 1-D; the
# LA-GNN code indexes rows of the scipy matrix it returned before (adj[i].nonzero()[1])
_NX_MATRICES = ("import os, runpy, sys, networkx, scipy.sparse as sp; "
                "build = networkx.adjacency_matrix; "
                "networkx.adjacency_matrix = lambda *a, **k: sp.csr_matrix(build(*a, **k)); "
                "sys.argv = sys.argv[1:]; sys.path[0] = os.path.dirname(os.path.abspath("
                "sys.argv[0])); runpy.run_path(sys.argv[0], run_name='__main__')")


def _step_clock(cmd: list[str], cwd: str, first: int, last: int) -> dict:
    """Clock the LA-GNN code's pretraining by its ``U Score`` lines (one a CVAE step):
    seconds from the start to step ``first``, seconds a step between steps ``first`` and
    ``last``, and the steps an epoch from its progress bar; the script is stopped after
    step ``last``."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    seen: list[float] = []
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err,
                              text=True) as proc:
            for line in proc.stdout:
                if line.startswith("U Score"):
                    seen.append(time.perf_counter())
                    if len(seen) == last:
                        proc.kill()
                        break
        err.seek(0)
        bars = re.findall(r"\d+/(\d+) \[", err.read())
    if len(seen) < last or not bars:
        raise SystemExit(f"{' '.join(cmd)} stopped after {len(seen)} steps of {last}")
    return {"first": first, "to_first": seen[first - 1] - t0,
            "seconds_per_step": (seen[last - 1] - seen[first - 1]) / (last - first),
            "steps_per_epoch": int(bars[-1])}


# cvae_generate_citation.py's defaults (--pretrain_epochs, --batch_size), as glt's preset
_PRETRAIN_EPOCHS, _PRETRAIN_BATCH = 10, 64


def lagnn_pretrain_rows(root: str, batches: int) -> dict:
    """The generator's pretraining with the paper's selection: glt's whole script, and
    the LA-GNN code's ``cvae_generate_citation.py`` clocked over ``batches`` steps after
    its fifth and extrapolated to its 10 epochs (the GCN's 20 update epochs after each
    new best score not counted: its time is a lower bound)."""
    from glt.datasets import load_planetoid
    from glt.models.lagnn.cvae import neighbour_pairs
    code, _ = _lagnn_workspace()
    first = 5
    clock = _step_clock([sys.executable, "-c", _NX_MATRICES, "cvae_generate_citation.py",
                         "--dataset", "cora"], code, first, first + batches)
    pairs = neighbour_pairs(load_planetoid("cora").graph)[0].numel()
    ours_per_epoch = -(-pairs // _PRETRAIN_BATCH)
    if clock["steps_per_epoch"] != ours_per_epoch:
        raise SystemExit(f"the LA-GNN code runs {clock['steps_per_epoch']} steps an epoch, "
                         f"glt {ours_per_epoch} ({pairs} neighbour pairs in batches of "
                         f"{_PRETRAIN_BATCH})")
    steps = _PRETRAIN_EPOCHS * ours_per_epoch
    theirs = clock["to_first"] + (steps - first) * clock["seconds_per_step"]
    ours, _ = _timed([sys.executable, "-m", "glt", "train", "lagnn", "--model", "gcn", "--runs",
                      "1", "--epochs", "1", "--generator", os.path.join(code, "new.pt"),
                      "--quiet"], code)
    shutil.rmtree(os.path.dirname(code))
    return {"authors": dict(clock, seconds=theirs, steps=steps), "glt": {"seconds": ours}}


def _token_graph(scale: float):
    """Cora (``scale`` 0) or glt's seeded ogbn-products-sized graph at ``scale``,
    with features ``[N, F]``."""
    import torch
    if scale == 0:
        from glt.datasets import load_planetoid, row_normalize
        cora = load_planetoid("cora")
        return cora.graph, row_normalize(cora.x)
    from bench_sampler import NUM_EDGES, NUM_NODES, power_law_graph
    graph = power_law_graph(int(NUM_NODES * scale), int(NUM_EDGES * scale))
    return graph, torch.randn(graph.num_nodes, 100, generator=torch.Generator().manual_seed(0))


_LARGEGT_SIZE = dict(heads=2, global_dim=64, num_codes=4096, pos_dim=64)


def _paper_state(theirs: dict) -> dict:
    """The authors' ``LargeGT`` state as glt's ``PaperLargeGT`` names it (their four
    unused maps and ``out_proj`` dropped; Q, K and V stacked into one map; their
    ``_embedding_output`` is glt's ``codebook.output_codes()``)."""
    import torch
    local, att = "convs.0.local_module.", "convs.0.local_module.layers.0.self_attention."
    names = {"fc_in.": "node_encoder.", "fc_in_seq.": "token_encoder.", "ffs.0.": "ffn.",
             "fc_out.": "classifier.", local + "att_embeddings_nope.": "embed.",
             local + "layers.0.self_attention_norm.": "pre_norm.",
             att + "output_layer.": "attention.out.", local + "layers.0.res_proj.": "res_proj.",
             local + "final_ln.": "final_norm.", local + "attn_layer.": "readout.",
             "convs.0.lin_proj_g.": "global_in.", "convs.0.lin_query_g.": "q.",
             "convs.0.lin_key_g.": "k.", "convs.0.lin_value_g.": "v.",
             "convs.0.vq.bn.": "codebook.norm.", "convs.0.vq._embedding": "codebook.codes",
             "convs.0.vq._ema_w": "codebook.code_sum",
             "convs.0.vq._ema_cluster_size": "codebook.cluster_size",
             "convs.0.c_idx": "assigned"}
    out = {}
    for key, value in theirs.items():
        for old, new in names.items():  # names ending in "." are prefixes, others whole
            if key == old or (old.endswith(".") and key.startswith(old)):
                out[new + key[len(old):]] = value
    for part in ("weight", "bias"):
        out[f"attention.qkv.{part}"] = torch.cat([theirs[f"{att}linear_{x}.{part}"]
                                                  for x in "qkv"])
    return out


def _paper_check(theirs, inputs, pos, nodes, y) -> dict:
    """glt's ``PaperLargeGT`` given the authors' trained weights, codebook and
    assignments: both models' evaluation losses on ``nodes`` (those without padded
    tokens, which the authors' model does not mask)."""
    import torch
    import torch.nn.functional as F

    from glt.models.largegt import PaperLargeGT
    tokens, mask, feats = inputs(nodes, seed=0)[:3]
    full = ~mask.any(1)
    tokens, mask, feats, nodes = tokens[full], mask[full], feats[full], nodes[full]
    ours = PaperLargeGT(feats.size(1), 256, int(y.max()) + 1, pos.size(0), **_LARGEGT_SIZE)
    ours.load_state_dict(_paper_state(theirs.state_dict()))
    theirs.eval(), ours.eval()
    with torch.no_grad():
        a = theirs(tokens, feats, pos[nodes], nodes)
        b = ours(tokens, mask, feats, nodes, pos[nodes])
    return {"nodes": int(nodes.numel()), "loss_authors": float(F.cross_entropy(a, y[nodes])),
            "loss_glt": float(F.cross_entropy(b, y[nodes])),
            "max_logit_diff": float((a - b).abs().max())}


def _largegt_steps(side: str, scale: float, batches: int) -> dict:
    """Training steps of one side's LargeGT on glt's token batches (1024 nodes, K=100):
    ``glt`` (glt's ``LargeGT``), ``glt-paper`` (glt's ``PaperLargeGT``, the authors'
    layout and size) or ``authors`` (then checked against ``PaperLargeGT``)."""
    import torch
    import torch.nn.functional as F

    from glt.memory import keep_freed_memory
    from glt.models.largegt import LargeGT, PaperLargeGT, TokenInputs
    keep_freed_memory()
    graph, x = _token_graph(scale)
    n, classes, gen = graph.num_nodes, 47, torch.Generator().manual_seed(1)
    y = torch.randint(0, classes, (n,), generator=gen)
    pos = torch.randn(n, 64, generator=gen)
    inputs = TokenInputs(graph, x, 100)
    batch = min(1024, n)
    chunks = [torch.randperm(n, generator=gen)[:batch] for _ in range(batches + 1)]
    torch.manual_seed(0)
    if side == "glt":
        model = LargeGT(x.size(1), 256, classes, dropout=0.5, attn_dropout=0.0,
                        **_LARGEGT_SIZE)
    elif side == "glt-paper":
        model = PaperLargeGT(x.size(1), 256, classes, n, **_LARGEGT_SIZE)
    if side != "authors":
        def logits(chunk):
            tokens, mask, feats = inputs(chunk, seed=0)[:3]
            if side == "glt":
                return model(tokens, mask, feats, pos[chunk])
            return model(tokens, mask, feats, chunk, pos[chunk])
    else:
        _enter(LARGEGT)
        from model import LargeGT as TheirLargeGT  # noqa: E402 - the authors' module
        model = TheirLargeGT(num_nodes=n, in_channels=x.size(1), hidden_channels=256,
                             out_channels=classes, global_dim=64, num_layers=1, heads=2,
                             ff_dropout=0.5, attn_dropout=0.0, skip=False, conv_type="full",
                             num_centroids=4096, no_bn=False, norm_type="batch_norm",
                             sample_node_len=100)

        def logits(chunk):
            tokens, _, feats = inputs(chunk, seed=0)[:3]
            return model(tokens, feats, pos[chunk], chunk)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times, losses = [], []
    reset_peak()  # the peak of the steps, the graph and its tokens' features included
    for chunk in chunks:  # the first step warms up
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(logits(chunk), y[chunk])
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    per_batch = sum(times[1:]) / batches
    out = {"seconds_per_batch": per_batch, "nodes_per_second": batch / per_batch,
           "losses": losses, "peak_mb": status_mb("VmHWM"),
           "params": sum(p.numel() for p in model.parameters()),
           "trained_params": sum(p.numel() for p in model.parameters() if p.grad is not None)}
    if side == "authors":
        out["check"] = _paper_check(model, inputs, pos, chunks[-1], y)
    return out


def _token_prep(side: str, scale: float) -> dict:
    """Token preparation for every node: 99 sampled 1-2 hop nodes and the hop features."""
    import numpy as np
    import scipy.sparse as sp
    import torch

    from glt.propagate import hop_features
    from glt.samplers import TokenSampler
    graph, x = _token_graph(scale)
    if side == "glt":
        t0 = time.perf_counter()
        hop_features(graph, x)
        TokenSampler(graph, 100).sample(seed=0)
        return {"seconds": time.perf_counter() - t0, "peak_mb": status_mb("VmHWM")}
    _enter(LARGEGT)
    import ogb.nodeproppred
    ogb.nodeproppred.DglNodePropPredDataset = None  # DGL is not installed; not used here
    import data_utils  # noqa: E402 - the authors' module
    n = graph.num_nodes
    adj = sp.csr_matrix((np.ones(graph.num_edges, np.float32), graph.col.numpy(),
                         graph.rowptr.numpy()), shape=(n, n))
    t0 = time.perf_counter()
    data_utils.create_node_ids(x, adj, sample_node_len=100)
    return {"seconds": time.perf_counter() - t0, "peak_mb": status_mb("VmHWM"),
            "torch_threads": torch.get_num_threads()}


def largegt_rows(root: str, batches: int, scale: float, prep_scale: float) -> dict:
    """Both sides' training steps and token preparation, each in its own subprocess."""
    rows: dict = {}
    for case, arg in (("steps", scale), ("steps", 0.0), ("prep", 0.0), ("prep", prep_scale)):
        for side in ("glt", "glt-paper", "authors") if case == "steps" else ("glt", "authors"):
            # Cora's 1433-wide tokens make a step a minute long: one timed step there
            steps = 1 if arg == 0 else batches
            cmd = [sys.executable, os.path.abspath(__file__), "--worker",
                   f"largegt-{case}:{side}", "--batches", str(steps), "--largegt-scale",
                   str(arg)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"largegt {case} {side} failed:\n{done.stderr[-3000:]}")
            rows[(case, arg, side)] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


PAPERS = {
    "lightgcn": ("LightGCN-PyTorch", LIGHTGCN, glt_lightgcn, authors_lightgcn),
    "lightgcn-ml1m": ("LightGCN-PyTorch", LIGHTGCN,
                      functools.partial(glt_lightgcn, dataset="ml-1m"),
                      functools.partial(authors_lightgcn, dataset="ml-1m")),
    "ultragcn": ("UltraGCN", ULTRAGCN, glt_ultragcn, authors_ultragcn),
    "ultragcn-ml1m": ("UltraGCN", ULTRAGCN, functools.partial(glt_ultragcn, dataset="ml-1m"),
                      functools.partial(authors_ultragcn, dataset="ml-1m")),
}
SCRIPTS = {"lagnn": lagnn_rows, "lagnn-pretrain": lagnn_pretrain_rows}


def _print_largegt(rows: dict, scale: float, prep_scale: float) -> None:
    for (case, arg, side), r in rows.items():
        where = "Cora" if arg == 0 else f"the products-sized graph at scale {arg}"
        if case == "steps":
            print(f"largegt   {side:9} {r['seconds_per_batch']:8.2f} s per 1024-node step on "
                  f"{where} ({r['nodes_per_second']:.0f} nodes/s), peak {r['peak_mb']:.0f} MB, "
                  f"{r['params']:,} parameters ({r['trained_params']:,} with a gradient), "
                  f"losses {[round(v, 3) for v in r['losses']]}", flush=True)
        else:
            print(f"largegt   {side:9} {r['seconds']:8.2f} s to prepare the tokens of {where}, "
                  f"peak {r['peak_mb']:.0f} MB", flush=True)
        if "check" in r:
            c = r["check"]
            agree = abs(c["loss_glt"] - c["loss_authors"]) <= 1e-4 * abs(c["loss_authors"])
            print(f"largegt   the authors' trained weights in glt's PaperLargeGT, {c['nodes']} "
                  f"nodes of {where}: loss {c['loss_authors']:.6g} (authors) vs "
                  f"{c['loss_glt']:.6g} (glt), logits within {c['max_logit_diff']:.1e}: "
                  f"{'agree' if agree else 'DIFFER'}", flush=True)
            if not agree:
                raise SystemExit("largegt: the two models differ; no time is reported")
    for case, arg in (("steps", scale), ("steps", 0.0), ("prep", 0.0), ("prep", prep_scale)):
        key = "seconds_per_batch" if case == "steps" else "seconds"
        for side in ("glt", "glt-paper") if case == "steps" else ("glt",):
            ratio = rows[(case, arg, "authors")][key] / rows[(case, arg, side)][key]
            print(f"largegt   {case} ({'Cora' if arg == 0 else f'scale {arg}'}): {side} "
                  f"{ratio:.2f}x LargeGT's own code", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=os.path.join(HERE, "..", "..", "shared", "data", "rec"))
    every = sorted(PAPERS) + sorted(SCRIPTS) + ["largegt"]
    p.add_argument("--papers", nargs="+", choices=every, default=every)
    p.add_argument("--largegt-scale", type=float, default=0.1, help="size of the graph of "
                   "LargeGT's training steps, as a fraction of ogbn-products'")
    p.add_argument("--prep-scale", type=float, default=0.01, help="the same for the token "
                   "preparation (the authors' A @ A grows with the square of the degrees)")
    p.add_argument("--batches", type=int, default=40, help="timed steps where an epoch is "
                   "extrapolated (UltraGCN)")
    p.add_argument("--lagnn-runs", type=int, default=1, help="LA-GCN runs on each side, for "
                   "the spread of their test accuracy (the epoch time comes from all of them)")
    p.add_argument("--lagnn-epochs", type=int, default=220, help="epochs of each LA-GCN run "
                   "(the LA-GNN code's semi.sh: 2000)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker and args.worker.startswith("largegt-"):
        case, side = args.worker.removeprefix("largegt-").split(":")
        out = (_largegt_steps(side, args.largegt_scale, args.batches) if case == "steps"
               else _token_prep(side, args.largegt_scale))
        print(json.dumps(out))
        return
    if args.worker:
        paper, side = args.worker.split(":")
        _, _, ours, theirs = PAPERS[paper]
        out = (ours if side == "glt" else theirs)(os.path.abspath(args.root), args.batches)
        print(json.dumps(out))
        return
    from glt.train.args import check_parsed, count, rate
    check_parsed(p, args, {"largegt_scale": rate, "prep_scale": rate, "batches": count,
                           "lagnn_runs": count, "lagnn_epochs": count})
    glt_epochs: dict[str, float] = {}  # glt's seconds per epoch by paper
    for paper in args.papers:
        if paper == "largegt":
            if not os.path.isdir(LARGEGT):
                raise SystemExit(f"no snapshot of LargeGT at {LARGEGT}; see this script's "
                                 "docstring for how to put it there")
            _print_largegt(largegt_rows(os.path.abspath(args.root), min(args.batches, 3),
                                        args.largegt_scale, args.prep_scale),
                           args.largegt_scale, args.prep_scale)
            continue
        if paper in SCRIPTS:
            if not os.path.isdir(LAGNN):
                raise SystemExit(f"no snapshot of the LA-GNN code at {LAGNN}; see this "
                                 "script's docstring for how to put it there")
            extra = ({"runs": args.lagnn_runs, "epochs": args.lagnn_epochs}
                     if paper == "lagnn" else {})
            rows = SCRIPTS[paper](os.path.abspath(args.root), args.batches, **extra)
            key = "seconds_per_epoch" if paper == "lagnn" else "seconds"
            for side in ("glt", "authors"):
                r = rows[side]
                print(f"{paper:9} {side:8} {r[key]:8.1f} s"
                      + (" per Cora epoch" if paper == "lagnn" else " for the pretraining")
                      + (f", test acc {r['test']:.4f} ± {r['test_std']:.4f} after "
                         f"{args.lagnn_epochs} epochs ({args.lagnn_runs} runs)"
                         if "test" in r else "")
                      + (f" (extrapolated: {r['to_first']:.1f} s to step {r['first']}, "
                         f"then {r['seconds_per_step']:.3f} s a step x "
                         f"{r['steps'] - r['first']})"
                         if "steps" in r else ""), flush=True)
            ratio = rows["authors"][key] / rows["glt"][key]
            print(f"{paper:9} glt {ratio:.2f}x the LA-GNN code", flush=True)
            continue
        name, folder, _, _ = PAPERS[paper]
        if not os.path.isdir(folder):
            raise SystemExit(f"no snapshot of {name} at {folder}; see this script's "
                             "docstring for how to put it there")
        rows = {}
        for side in ("glt", "authors"):
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", f"{paper}:{side}",
                   "--root", os.path.abspath(args.root), "--batches", str(args.batches)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{paper} {side} failed:\n{done.stderr[-3000:]}")
            rows[side] = json.loads(done.stdout.strip().splitlines()[-1])
            r = rows[side]
            where = "ml-1m" if paper.endswith("ml1m") else "gowalla"
            print(f"{paper:9} {side:8} {r['seconds_per_epoch']:8.1f} s per {where} epoch"
                  + (f" ({r['seconds_per_batch'] * 1000:.1f} ms per step x "
                     f"{r['batches_per_epoch']})" if "seconds_per_batch" in r else "")
                  + f", peak {r['peak_mb']:.0f} MB", flush=True)
        theirs = rows["authors"]
        agree = abs(theirs["loss_glt"] - theirs["loss_authors"]) <= \
            1e-4 * abs(theirs["loss_authors"])
        print(f"{paper:9} same batch, same weights: loss {theirs['loss_authors']:.6g} (authors) "
              f"vs {theirs['loss_glt']:.6g} (glt): {'agree' if agree else 'DIFFER'}")
        if not agree:
            raise SystemExit(f"{paper}: the two losses differ; no time is reported")
        ratio = theirs["seconds_per_epoch"] / rows["glt"]["seconds_per_epoch"]
        print(f"{paper:9} glt {ratio:.2f}x {name}'s own code", flush=True)
        glt_epochs[paper] = rows["glt"]["seconds_per_epoch"]
    if "lightgcn" in glt_epochs and "ultragcn" in glt_epochs:
        ratio = glt_epochs["ultragcn"] / glt_epochs["lightgcn"]
        print(f"glt on gowalla: an UltraGCN epoch {glt_epochs['ultragcn']:.1f} s, a LightGCN "
              f"epoch {glt_epochs['lightgcn']:.1f} s (ratio {ratio:.2f})", flush=True)


if __name__ == "__main__":
    main()
