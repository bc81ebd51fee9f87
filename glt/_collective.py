"""Collectives for state that modules update outside autograd (running statistics,
assignments), so that data-parallel ranks keep one state: no-ops in one process."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Ranks in the default process group (1 when none is initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def sum_across_ranks(*tensors: Tensor) -> None:
    """Replace each tensor, in place, by its sum over the ranks."""
    if world_size() > 1:
        for t in tensors:
            dist.all_reduce(t)


def cat_across_ranks(t: Tensor) -> Tensor:
    """``[sum of n_r, ...]``: every rank's ``t [n_r, ...]`` concatenated in rank order
    (``t`` itself in one process); ranks may hold different ``n_r``."""
    ranks = world_size()
    if ranks == 1:
        return t
    sizes = [torch.zeros(1, dtype=torch.long, device=t.device) for _ in range(ranks)]
    dist.all_gather(sizes, torch.tensor([t.size(0)], device=t.device))
    longest = max(int(s) for s in sizes)
    padded = t.new_zeros((longest, *t.shape[1:]))
    padded[:t.size(0)] = t
    parts = [torch.empty_like(padded) for _ in range(ranks)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:int(s)] for p, s in zip(parts, sizes)])
