"""Full ranking for implicit-feedback recommendation: metrics and top-K lists.

Every item is scored for every user asked, one chunk of users at a time (memory
bounded by ``chunk_size x num_items``), the items already seen (training
interactions) are masked out, and the top-``K`` list is kept: compared with the
user's test items (:func:`rank_metrics`) or returned (:func:`recommend`).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor

from glt._checks import as_index, as_int
from glt.graph import CSRGraph
from glt.models.scoring import Scorer, dot_scorer
from glt.ops._csr import row_entries

__all__ = ["Scorer", "dot_scorer", "rank_metrics", "recommend"]


def _rows_mask(graph: CSRGraph, users: Tensor, num_items: int) -> tuple[Tensor, Tensor]:
    """``(chunk row [n], item [n])`` of every entry of ``graph``'s rows ``users``."""
    start = graph.rowptr[users]
    row, pos = row_entries(torch.arange(users.numel(), device=users.device), start,
                           graph.rowptr[users + 1] - start)
    return row, graph.col[pos]


def _top_items(scorer: Scorer, chunk: Tensor, seen: Optional[CSRGraph], num_items: int,
               k: int) -> tuple[Tensor, Tensor, Optional[CSRGraph]]:
    """``(scores [C, k], items [C, k], seen)``, best first, of the users ``chunk [C]``
    on the scorer's device; the items of ``seen``'s rows score ``-inf``. ``seen``
    comes back on that device (moved once, for the next chunks)."""
    scores = scorer(chunk).float()
    if scores.shape != (chunk.numel(), num_items):
        raise ValueError(f"expected the scorer to return [{chunk.numel()}, {num_items}], "
                         f"got {tuple(scores.shape)}")
    if seen is not None:
        seen = seen.to(scores.device)
        row, item = _rows_mask(seen, chunk.to(scores.device), num_items)
        scores[row, item] = -math.inf
    values, items = scores.topk(k, dim=1)
    return values, items, seen


@torch.no_grad()
def rank_metrics(scorer: Scorer, train: CSRGraph, test: CSRGraph, ks: Sequence[int] = (20,),
                 chunk_size: int = 1024, users: Optional[Tensor] = None) -> dict[str, float]:
    """``recall@K``, ``ndcg@K``, ``precision@K`` and ``hit@K`` for every K in ``ks``.

    Args:
        scorer: ``users [C] -> scores [C, I]`` (e.g. :func:`dot_scorer`).
        train: ``CSRGraph [U, I]`` of training interactions, masked from the ranking.
        test: ``CSRGraph [U, I]`` of test interactions.
        ks: cut-offs.
        chunk_size: users scored at once.
        users: users to evaluate (default: every user with a test item); users
            without test items are left out of the averages.

    ``ndcg@K`` divides by the ideal DCG of ``min(K, |test items|)`` hits, as
    LightGCN's and UltraGCN's code; ``recall@K`` by ``|test items|``.
    """
    if train.shape != test.shape:
        raise ValueError(f"expected train and test graphs of one shape, got {train.shape} "
                         f"and {test.shape}")
    ks = sorted({as_int(k, "each cut-off in ks", minimum=1) for k in ks})
    if not ks:
        raise ValueError("expected at least one cut-off in ks")
    chunk_size = as_int(chunk_size, "chunk_size", minimum=1)
    num_users, num_items = train.shape
    test_deg = test.out_degree()
    if users is None:
        users = (test_deg > 0).nonzero().view(-1)
    else:  # only ids given by the caller need checking
        users = as_index(users, "users", bound=num_users).to(test_deg.device)
    users = users[test_deg[users] > 0]
    max_k = min(ks[-1], num_items)
    discount = 1.0 / torch.log2(torch.arange(2, max_k + 2, dtype=torch.float64))
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), discount.cumsum(0)])
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("recall", "ndcg", "precision", "hit")}
    test_keys = (test.row() * num_items + test.col).sort().values  # membership by binary search
    for chunk in users.split(chunk_size):
        _, top, train = _top_items(scorer, chunk, train, num_items, max_k)
        if top.device != test_keys.device:  # score where the model lives, count there too
            test_deg, test_keys = test_deg.to(top.device), test_keys.to(top.device)
        chunk = chunk.to(top.device)
        keys = chunk.unsqueeze(1) * num_items + top
        found_at = torch.searchsorted(test_keys, keys).clamp(max=test_keys.numel() - 1)
        hits = (test_keys[found_at] == keys).double().cpu()
        n_test = test_deg[chunk].double().cpu()
        for k in ks:
            h = hits[:, :k]
            found = h.sum(1)
            dcg = (h * discount[:k]).sum(1)
            sums[f"recall@{k}"] += float((found / n_test).sum())
            sums[f"precision@{k}"] += float(found.sum() / k)
            sums[f"hit@{k}"] += float((found > 0).sum())
            sums[f"ndcg@{k}"] += float((dcg / ideal[n_test.clamp(max=k).long()]).sum())
    count = max(users.numel(), 1)
    return {key: value / count for key, value in sums.items()}


@torch.no_grad()
def recommend(scorer: Scorer, users: Tensor, num_items: int, k: int = 20,
              exclude: Optional[CSRGraph] = None, chunk_size: int = 1024
              ) -> tuple[Tensor, Tensor]:
    """The top-``k`` items of each user: ``(items [C, k], scores [C, k])``, best first.

    Args:
        scorer: ``users [C] -> scores [C, I]``, e.g. a trained model's ``scorer()``.
        users: ``[C]`` user ids.
        num_items: ``I``.
        k: list length (at most ``I``).
        exclude: ``CSRGraph [U, I]`` of items not to recommend again (the training
            interactions, as full-ranking evaluation leaves them out). A place
            left without an item (a user with fewer than ``k`` others) or scored
            ``-inf`` by the model holds item ``-1``, score ``-inf``.
        chunk_size: users scored at once.
    """
    users = as_index(users, "users", bound=exclude.num_nodes if exclude is not None else None)
    k = as_int(k, "k", minimum=1)
    chunk_size = as_int(chunk_size, "chunk_size", minimum=1)
    if k > num_items:
        raise ValueError(f"expected k to be at most num_items ({num_items}), got {k}")
    if exclude is not None and exclude.num_cols != num_items:
        raise ValueError(f"expected exclude to be a CSRGraph [U, {num_items}], got shape "
                         f"{exclude.shape}")
    values, indices = [], []
    for chunk in users.split(chunk_size):
        top_scores, top_items, exclude = _top_items(scorer, chunk, exclude, num_items, k)
        values.append(top_scores)
        indices.append(top_items)
    scores = torch.cat(values) if values else torch.empty(0, k)
    items = torch.cat(indices) if indices else torch.empty(0, k, dtype=torch.long)
    return items.masked_fill(scores == -math.inf, -1), scores
