"""``Shard``: this process's place among data-parallel ranks, and its share of
an epoch's work (plain ``rank`` and ``world_size`` ints; no process group)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Shard:
    """This process's place among ``world_size`` data-parallel ranks."""

    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"expected 0 <= rank < world_size, got rank {self.rank} of "
                             f"{self.world_size}")

    @property
    def is_main(self) -> bool:
        """Whether this rank writes results, checkpoints and progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def split(self, items: Tensor) -> Tensor:
        """This rank's equal share of ``items`` ``[n]`` (the same order on every rank):
        ``items[rank::world_size]`` cut to ``n // world_size`` entries, so every rank
        runs the same number of steps (at most ``world_size - 1`` items are left out)."""
        if not self.active:
            return items
        per_rank = items.size(0) // self.world_size
        if per_rank == 0:
            raise ValueError(f"cannot split {items.size(0)} items across {self.world_size} "
                             "ranks: fewer items than ranks")
        return items[self.rank::self.world_size][:per_rank]

    def seed(self, base: int) -> int:
        """This rank's own seed derived from ``base`` (``base`` itself in one process),
        so ranks draw different samples and a resumed run draws the same ones again."""
        return base * self.world_size + self.rank if self.active else base

    def generator(self, seed: int, epoch: int, device: torch.device) -> torch.Generator:
        """A generator for this rank's own random draws in ``epoch``."""
        mixed = self.seed(seed * 1_000_003 + epoch)
        return torch.Generator(device=device).manual_seed(mixed % (2 ** 63))
