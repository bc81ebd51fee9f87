"""Seeds of glt's counter-based samplers."""
from __future__ import annotations

from typing import Optional

import torch


_MASK = 2**63 - 1
_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant: k -> k * _GOLDEN spreads small counters


def derive(base: int, k: int) -> int:
    """The ``k``-th seed derived from ``base`` (an epoch of a loader, a batch of an epoch)."""
    return (base + k * _GOLDEN) & _MASK


def draw_base(seed: Optional[int], generator: Optional[torch.Generator] = None) -> int:
    """A 63-bit sampling seed: ``seed`` itself, or a draw from ``generator`` (default:
    torch's global generator)."""
    if seed is None:
        return int(torch.randint(0, 2**62, (1,), generator=generator))
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected seed to be a non-negative int, got {seed!r}")
    return seed & _MASK
