"""Local augmentation's cost: CVAE pretraining, and one LA-GCN training epoch
beside one plain GCN epoch (the paper's Cora settings), in one process.

    python benchmarks/bench_lagnn.py
"""
from __future__ import annotations

import argparse
import platform
import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from glt.datasets import load_planetoid, row_normalize
from glt.memory import keep_freed_memory
from glt.models import GCN
from glt.models.lagnn import CVAE, la_backbone, train_cvae
from glt.train.lagnn import augmentation, la_objective
from glt.train.lagnn_cli import PRESETS


def seconds_per_epoch(step: Callable[[], None], epochs: int) -> float:
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(epochs):
        step()
    return (time.perf_counter() - t0) / epochs


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--epochs", type=int, default=20, help="timed training epochs")
    parser.add_argument("--glibc-defaults", action="store_true", help="leave glibc's "
                        "allocator as it is instead of keeping freed memory for reuse, as "
                        "glt's scripts do (glt.memory.keep_freed_memory)")
    args = parser.parse_args(argv)
    kept = False if args.glibc_defaults else keep_freed_memory()
    settings = PRESETS["gcn"][args.dataset]
    data = load_planetoid(args.dataset)
    raw = data.x
    data.x = row_normalize(raw)
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"{platform.processor() or platform.machine()}  {data}  freed memory kept: {kept}")
    torch.manual_seed(0)
    cvae = CVAE(raw.size(1))
    t0 = time.perf_counter()
    train_cvae(cvae, raw, data.graph, settings["cvae_epochs"], settings["cvae_batch"],
               settings["cvae_lr"])
    pretrain = time.perf_counter() - t0
    draw = augmentation(cvae, raw, data.x, settings["num_inputs"], row_normalize)
    train_loss, _ = la_objective(draw, settings["samples"], settings["lam"],
                                 settings["temperature"])
    la = la_backbone("gcn", data.num_features, settings["hidden"], data.num_classes,
                     settings["num_inputs"], settings["dropout"])
    gcn = GCN(data.num_features, 16, data.num_classes)

    def stepper(model: torch.nn.Module, loss_fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

        def step() -> None:
            model.train()
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        return step
    la_s = seconds_per_epoch(stepper(la, lambda: train_loss(la, data)), args.epochs)
    gcn_s = seconds_per_epoch(stepper(gcn, lambda: F.cross_entropy(
        gcn(data.x, data.graph)[data.train_mask], data.y[data.train_mask])), args.epochs)
    print(f"CVAE pretraining ({settings['cvae_epochs']} epochs over "
          f"{data.graph.num_edges:,} pairs): {pretrain:.1f}s")
    print(f"LA-GCN epoch ({settings['samples']} samples x {settings['num_inputs']} inputs): "
          f"{la_s * 1e3:.1f} ms; GCN epoch: {gcn_s * 1e3:.1f} ms; overhead {la_s / gcn_s:.1f}x")


if __name__ == "__main__":
    main()
