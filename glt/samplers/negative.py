"""Negative sampling: items for implicit-feedback recommendation (BPR, UltraGCN)
and non-edges for link prediction."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from glt._checks import as_index, as_int
from glt.graph import CSRGraph
from glt.samplers._kernels import uniform_ints
from glt.samplers._seed import draw_base


class NegativeSampler:
    """Draws negatives against a user-item training graph ``[num_users, num_items]``.

    Membership ("is item ``i`` a training positive of user ``u``?") is a binary
    search over the sorted ``u * num_items + i`` keys, so every draw is
    vectorised. Pass a ``torch.Generator`` to make draws repeatable.
    """

    def __init__(self, train: CSRGraph) -> None:
        if not isinstance(train, CSRGraph):
            raise TypeError(f"expected train to be a glt.CSRGraph, got {type(train).__name__}")
        self.graph = train
        self.num_users, self.num_items = train.shape
        self.degree = train.out_degree()
        self._keys = (train.row() * self.num_items + train.col).sort().values
        self._active = (self.degree > 0).nonzero().flatten()
        full = (self.degree >= self.num_items).nonzero()
        self._full_user = int(full[0]) if full.numel() else -1

    def _need_item_negatives(self) -> None:
        if self._full_user >= 0:
            raise ValueError(f"user {self._full_user} has every item as a positive: no "
                             "negative exists")

    def is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        """Bool tensor shaped like ``items``: is ``items[..]`` a positive of
        ``users[..]`` (integer ids of one shape)."""
        if not isinstance(users, Tensor) or not isinstance(items, Tensor) or \
                users.shape != items.shape:
            raise ValueError(f"expected users and items as tensors of one shape, got "
                             f"{_shape(users)} and {_shape(items)}")
        as_index(users.reshape(-1), "users", bound=self.num_users)
        as_index(items.reshape(-1), "items", bound=self.num_items)
        return self._is_positive(users, items)

    def _is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        keys = users * self.num_items + items
        found = torch.searchsorted(self._keys, keys.reshape(-1)).clamp(max=self._keys.numel() - 1)
        return (self._keys[found] == keys.reshape(-1)).reshape(keys.shape)

    def _rand_items(self, shape: tuple[int, ...], generator: Optional[torch.Generator]) -> Tensor:
        """Uniform items of ``shape``; on CPU from a counter-based kernel
        seeded by one draw of ``generator`` (faster than torch's sequential ``randint``)."""
        device = self._keys.device
        if device.type != "cpu":
            return torch.randint(0, self.num_items, shape, generator=generator, device=device)
        base = draw_base(None, generator)
        draws = uniform_ints(np.uint64(base), math.prod(shape), self.num_items)
        return torch.from_numpy(draws).view(shape)

    def negatives(self, users: Tensor, num_negatives: int, exclude_positives: bool = False,
                  generator: Optional[torch.Generator] = None) -> Tensor:
        """``[B, num_negatives]`` items drawn uniformly for each of ``users [B]``.

        UltraGCN draws them without exclusion (the default); with
        ``exclude_positives`` each draw is repeated until it misses the user's
        training items.
        """
        users = as_index(users, "users", bound=self.num_users)
        self._need_item_negatives()
        num_negatives = as_int(num_negatives, "num_negatives", minimum=1)
        neg = self._rand_items((users.numel(), num_negatives), generator)
        if exclude_positives:
            owner = users.unsqueeze(1).expand_as(neg)
            self._redraw(owner, neg, generator)
        return neg

    def _redraw(self, users: Tensor, items: Tensor, generator: Optional[torch.Generator]
                ) -> None:
        """Redraw ``items`` in place wherever they hit a positive of ``users``."""
        hit = self._is_positive(users, items)
        while bool(hit.any()):
            items[hit] = self._rand_items((int(hit.sum()),), generator)
            hit = self._is_positive(users, items)

    def pairs(self, num_samples: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """``[num_samples, 2]`` (row, column) pairs drawn uniformly among those that
        are not edges of the graph (nor self-loops, on a square graph): the
        negatives of link prediction, as PyG's ``negative_sampling``."""
        num_samples = as_int(num_samples, "num_samples", minimum=0)
        square = self.num_users == self.num_items
        device = self._keys.device
        keys = self._keys.unique_consecutive()
        if square:
            keys = keys[keys // self.num_items != keys % self.num_items]
        if num_samples and keys.numel() >= self.num_users * self.num_items - (
                self.num_users if square else 0):
            raise ValueError("every pair of nodes is an edge: no negative pair exists")

        def draw(n: int) -> tuple[Tensor, Tensor]:
            rows = torch.randint(0, self.num_users, (n,), generator=generator, device=device)
            return rows, self._rand_items((n,), generator)
        rows, cols = draw(num_samples)
        hit = self._is_positive(rows, cols) | ((rows == cols) if square else False)
        while bool(hit.any()):
            rows[hit], cols[hit] = draw(int(hit.sum()))
            hit = self._is_positive(rows, cols) | ((rows == cols) if square else False)
        return torch.stack([rows, cols], dim=1)

    def bpr(self, num_samples: Optional[int] = None,
            generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor, Tensor]:
        """BPR triples ``(users, positives, negatives)``, each ``[num_samples]``.

        As LightGCN's sampler: a user uniformly among users with training
        items, one of its items uniformly, and an item it has not interacted
        with uniformly. ``num_samples`` defaults to the number of interactions
        (one epoch).
        """
        if self._active.numel() == 0:
            raise ValueError("expected at least one training interaction, got an empty graph")
        self._need_item_negatives()
        num_samples = as_int(self.graph.num_edges if num_samples is None else num_samples,
                             "num_samples", minimum=0)
        device = self._keys.device
        pick = torch.randint(0, self._active.numel(), (num_samples,), generator=generator,
                             device=device)
        users = self._active[pick]
        offset = (torch.rand(num_samples, generator=generator, device=device,
                             dtype=torch.float64) * self.degree[users]).long()
        offset = torch.minimum(offset, self.degree[users] - 1)
        pos = self.graph.col[self.graph.rowptr[users] + offset]
        neg = self._rand_items((num_samples,), generator)
        self._redraw(users, neg, generator)
        return users, pos, neg


def _shape(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__
