"""Data-parallel training with ``torch.distributed`` as ``torchrun`` launches it.

``torchrun --nproc_per_node 4 scripts/train_lightgcn.py ...`` starts one process
per GPU (or per CPU worker) with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address in the environment. :func:`init` joins that process group
(NCCL on CUDA, gloo on CPU); without those variables it is a no-op and the
scripts run in one process as before. The training loops then split each
epoch's work across ranks (:meth:`Shard.split`), draw per-rank random samples
from :meth:`Shard.generator`, synchronise gradients through
:class:`~torch.nn.parallel.DistributedDataParallel`, and leave writing results
and checkpoints to rank 0 (:attr:`Shard.is_main`).
"""
from __future__ import annotations

import gc
import os
from typing import Callable

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from glt.samplers.shard import Shard

__all__ = ["Shard", "init", "data_parallel", "broadcast_module", "finish", "LossModule"]


def init(device: str = "cpu") -> tuple[Shard, torch.device]:
    """Join the process group described by torchrun's environment variables.

    Returns this process's :class:`Shard` and its device: ``cuda:LOCAL_RANK``
    when ``device`` is CUDA, else ``device``. Without ``WORLD_SIZE`` > 1 in the
    environment this returns ``Shard()`` and ``torch.device(device)``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if world_size == 1:
        return Shard(), dev
    try:
        rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    except KeyError as err:
        raise RuntimeError(f"WORLD_SIZE={world_size} but {err.args[0]} is not set: launch "
                           "data-parallel runs with torchrun") from None
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Shard(rank, world_size), dev


def data_parallel(module: nn.Module, shard: Shard) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel when ``shard`` is active
    (gradients averaged across ranks in backward), else ``module`` itself."""
    if not shard.active:
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


class LossModule(nn.Module):
    """Exposes ``loss(model, *batch)`` as ``forward``, so DistributedDataParallel
    can wrap models whose training step is not their ``forward``."""

    def __init__(self, model: nn.Module, loss: Callable[..., Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, *batch: Tensor) -> Tensor:
        return self.loss(self.model, *batch)


def broadcast_module(module: nn.Module, shard: Shard) -> None:
    """Copy rank 0's parameters and buffers into ``module`` on every rank (no-op in
    one process), e.g. after rank 0 alone pretrained it."""
    if shard.active:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def finish(shard: Shard) -> None:
    """Leave the process group (no-op in one process): wait for every rank, then
    destroy the group. Release DistributedDataParallel wrappers before calling
    this, so no reference to the group outlives it into interpreter shutdown."""
    if shard.active and dist.is_initialized():
        gc.collect()  # wrappers caught in reference cycles go now, not at exit
        dist.barrier()
        dist.destroy_process_group()
