"""How recommendation models score items for users, for full-ranking evaluation."""
from __future__ import annotations

from typing import Callable

from torch import Tensor

Scorer = Callable[[Tensor], Tensor]  # users [C] -> scores [C, I]


def dot_scorer(user_emb: Tensor, item_emb: Tensor) -> Scorer:
    """Scores ``user_emb[u] . item_emb[i]`` (``[U, d]``, ``[I, d]``)."""
    if user_emb.dim() != 2 or item_emb.dim() != 2 or user_emb.size(1) != item_emb.size(1):
        raise ValueError(f"expected user and item embeddings [U, d] and [I, d], got "
                         f"{tuple(user_emb.shape)} and {tuple(item_emb.shape)}")
    item_t = item_emb.t()
    return lambda users: user_emb[users] @ item_t
