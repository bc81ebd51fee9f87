"""UltraGCN (Mao et al., CIKM 2021, https://arxiv.org/abs/2110.15114).

No message passing: a weighted BCE loss whose weights ``beta(u, i)`` come from
the limit of infinitely many LightGCN layers, plus an item-item loss over each
item's top-K neighbours in ``G = R^T R``. Computed as the authors' code does;
the item-item neighbours are found sparsely, a chunk of items at a time,
instead of through a dense ``I x I`` matrix.
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from glt._checks import as_float, as_index, as_int
from glt.graph import CSRGraph
from glt.models.scoring import Scorer, dot_scorer
from glt.ops.softplus_dot import checked_softplus_dot_loss, weighted_softplus
from glt.samplers import NegativeSampler
from glt.samplers.shard import Shard

DENSE_SCORES_LIMIT = 1 << 27  # batch x items scores computed densely up to this many


def constraint_weights(train: CSRGraph) -> tuple[Tensor, Tensor]:
    r"""``(beta_u [U], beta_i [I])`` with :math:`\beta(u, i) = \beta_u \beta_i`,
    :math:`\beta_u = \sqrt{d_u + 1} / d_u`, :math:`\beta_i = 1 / \sqrt{d_i + 1}`
    from the training degrees of ``train [U, I]`` (``inf`` for a user without items,
    as the authors' code; such users never appear in a batch)."""
    d_u = train.out_degree().double()
    d_i = train.in_degree().double()
    return (d_u + 1).sqrt().div(d_u).float(), (d_i + 1).rsqrt().float()


def item_neighbours(train: CSRGraph, k: int = 10, chunk_size: int = 1024,
                    zero_diagonal: bool = False) -> tuple[Tensor, Tensor]:
    r"""Top-``k`` item neighbours in :math:`G = R^T R` and their weights.

    :math:`\omega_{ij} = G_{ij} \frac{\sqrt{g_i + 1}}{g_i} \frac{1}{\sqrt{g_j + 1}}` with
    :math:`g_i = \sum_j G_{ij}`; each row keeps its ``k`` largest (the diagonal too
    unless ``zero_diagonal``, as the authors' default). ``G`` is built one chunk
    of item rows at a time as a sparse product, so memory is ``chunk_size x I``.

    Returns:
        ``(neighbours [I, k] int64, weights [I, k] float32)``.
    """
    import numpy as np
    import scipy.sparse as sp

    num_users, num_items = train.shape
    if not 0 < k <= num_items:
        raise ValueError(f"expected 0 < k <= {num_items} (items), got {k}")
    r = sp.csr_matrix((np.ones(train.num_edges, np.float64), train.col.numpy(),
                       train.rowptr.numpy()), shape=(num_users, num_items))
    rt = r.T.tocsr()
    # g_i = sum_j (R^T R)_ij = sum over the item's users of their degree
    g = np.asarray(rt @ np.asarray(r.sum(1)).reshape(-1)).reshape(-1)
    if zero_diagonal:
        g = g - np.asarray(rt.multiply(rt).sum(1)).reshape(-1)
    with np.errstate(divide="ignore"):
        row_w = np.sqrt(g + 1) / g
    col_w = torch.from_numpy(1 / np.sqrt(g + 1)).float()
    neighbours = torch.empty(num_items, k, dtype=torch.long)
    weights = torch.empty(num_items, k)
    for start in range(0, num_items, chunk_size):
        stop = min(start + chunk_size, num_items)
        block = torch.from_numpy((rt[start:stop] @ r).toarray()).float()  # [c, I]
        if zero_diagonal:
            block[torch.arange(stop - start), torch.arange(start, stop)] = 0
        block *= torch.from_numpy(row_w[start:stop]).float().unsqueeze(1) * col_w
        block = torch.nan_to_num(block, nan=0.0, posinf=0.0)
        weights[start:stop], neighbours[start:stop] = block.topk(k, dim=1)
    return neighbours, weights


def _half_squared_norm(*tables: Tensor) -> Tensor:
    """``sum_t ||t||^2 / 2`` over whole tables."""
    return sum(torch.dot(t.reshape(-1), t.reshape(-1)) for t in tables) / 2


class _HalfSquaredNorm(torch.autograd.Function):
    """:func:`_half_squared_norm` with the gradient ``grad * t`` in one pass over
    each table."""

    @staticmethod
    def forward(ctx, *tables: Tensor) -> Tensor:
        ctx.save_for_backward(*tables)
        return _half_squared_norm(*tables)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, ...]:
        return tuple(grad * t for t in ctx.saved_tensors)


class UltraGCN(nn.Module):
    """UltraGCN's embeddings and loss.

    Args:
        train: ``CSRGraph [U, I]`` of training interactions (degrees and ``G``).
        dim: embedding size.
        w1, w2, w3, w4: positive weight ``w1 + w2 beta``, negative weight ``w3 + w4 beta``.
        negative_weight: multiplier of the mean negative loss.
        num_negatives: uniform negatives per positive.
        gamma: L2 weight on all parameters.
        lambda_: weight of the item-item loss.
        num_neighbours: ``K`` of the item-item graph.
        init_std: std of the normal initialisation.
        l2_in_optimizer: leave the gradient of the L2 term to the optimiser, which
            must then apply :attr:`weight_decay` (``gamma``) as Adam's
            ``weight_decay`` does (the same gradient, added inside its update:
            two passes over both tables fewer per step; glt's training loop does
            this). The loss still includes the term's value.
    """

    def __init__(self, train: CSRGraph, dim: int = 64, w1: float = 1e-6, w2: float = 1.0,
                 w3: float = 1e-6, w4: float = 1.0, negative_weight: float = 300.0,
                 num_negatives: int = 1500, gamma: float = 1e-4, lambda_: float = 5e-4,
                 num_neighbours: int = 10, init_std: float = 1e-4,
                 l2_in_optimizer: bool = False) -> None:
        super().__init__()
        self.num_users, self.num_items = train.shape
        dim = as_int(dim, "dim", minimum=1)
        self.w1, self.w2, self.w3, self.w4 = (as_float(w, f"w{i}")
                                              for i, w in enumerate((w1, w2, w3, w4), 1))
        self.negative_weight = as_float(negative_weight, "negative_weight")
        self.num_negatives = as_int(num_negatives, "num_negatives", minimum=1)
        self.gamma, self.lambda_ = as_float(gamma, "gamma"), as_float(lambda_, "lambda_")
        init_std = as_float(init_std, "init_std", strict=True)
        num_neighbours = as_int(num_neighbours, "num_neighbours", minimum=1)
        if num_neighbours > self.num_items:
            raise ValueError(f"expected num_neighbours to be at most the {self.num_items} "
                             f"items of the training set, got {num_neighbours}")
        # the L2 weight the optimiser applies on every parameter (RecModel protocol)
        self.weight_decay = gamma if l2_in_optimizer else 0.0
        self.user_embedding = nn.Parameter(torch.empty(self.num_users, dim))
        self.item_embedding = nn.Parameter(torch.empty(self.num_items, dim))
        nn.init.normal_(self.user_embedding, std=init_std)
        nn.init.normal_(self.item_embedding, std=init_std)
        beta_u, beta_i = constraint_weights(train)
        neighbours, weights = item_neighbours(train, num_neighbours)
        self.register_buffer("beta_u", beta_u, persistent=False)
        self.register_buffer("beta_i", beta_i, persistent=False)
        self.register_buffer("ii_neighbours", neighbours, persistent=False)
        self.register_buffer("ii_weights", weights, persistent=False)

    def batches(self, sampler: NegativeSampler, batch_size: int, generator: torch.Generator,
                shard: Shard = Shard(), local: Optional[torch.Generator] = None
                ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """One epoch: every training (user, item) pair once, shuffled, with
        ``num_negatives`` uniform items each (no exclusion, as the authors' default).
        With several ranks the shuffled pairs (the same ``generator`` on every rank)
        are split across ranks and each draws its negatives from ``local``."""
        graph = sampler.graph
        order = torch.randperm(graph.num_edges, generator=generator, device=graph.device)
        order = shard.split(order)
        draw = local if shard.active else generator
        users, items = graph.row()[order], graph.col[order]
        for u, p in zip(users.split(batch_size), items.split(batch_size)):
            yield u, p, sampler.negatives(u, self.num_negatives, generator=draw)

    def loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """Summed loss of a batch: ``users [B]``, ``pos [B]``, ``neg [B, M]``."""
        users = as_index(users, "users", bound=self.num_users)
        pos = as_index(pos, "pos (items)", length=users.numel(), bound=self.num_items)
        as_index(neg.reshape(-1), "neg (items)", bound=self.num_items)
        if neg.dim() != 2 or neg.size(0) != users.numel():
            raise ValueError(f"expected neg of shape [{users.numel()}, M], got "
                             f"{tuple(neg.shape)}")
        # every product of the batch at once: the positive, its K item-item
        # neighbours, the M negatives; each term is weight * softplus(sign * score):
        # binary cross-entropy with logits for label 1 (the positive; the item-item
        # term -log sigmoid) has sign -1, for label 0 (the negatives) sign +1
        k, m = self.ii_neighbours.size(1), neg.size(1)
        items = torch.cat([pos.unsqueeze(1), self.ii_neighbours[pos], neg], 1)
        beta = self.beta_u[users]
        scale = self.negative_weight / m  # the mean over a row's negatives
        weight = torch.cat([
            (self.w1 + self.w2 * beta * self.beta_i[pos]).unsqueeze(1),
            self.lambda_ * self.ii_weights[pos],
            torch.addcmul(beta.new_tensor(self.w3 * scale), beta.unsqueeze(1),
                          self.beta_i[neg], value=self.w4 * scale)], 1)  # [B, 1 + K + M]
        u = self.user_embedding[users]
        if u.device.type == "cpu":
            # glt's kernel: each product from the rows in place, the loss and both
            # gradients in one pass (no [B, I] scores, no gathered [B, M, d] rows);
            # users, pos and neg are checked above, the neighbours are the model's own
            loss = checked_softplus_dot_loss(u, self.item_embedding, items, weight, 1 + k)
        else:
            if users.numel() * self.num_items <= DENSE_SCORES_LIMIT:
                # one [B, I] product, then a gather: cheaper than gathering [B, M, d]
                # item rows (and scatter-adding their gradients)
                scores = (u @ self.item_embedding.t()).gather(1, items)
            else:
                scores = torch.einsum("bd,bmd->bm", u, self.item_embedding[items])
            loss = weighted_softplus(scores, weight, 1 + k)
        tables = self.user_embedding, self.item_embedding
        if self.weight_decay:  # its gradient comes from the optimiser: the value alone
            with torch.no_grad():
                norm = _half_squared_norm(*tables)
        else:
            norm = _HalfSquaredNorm.apply(*tables)
        return loss + self.gamma * norm

    def scorer(self) -> Scorer:
        return dot_scorer(self.user_embedding.detach(), self.item_embedding.detach())
