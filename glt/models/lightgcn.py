"""LightGCN (He et al., SIGIR 2020, https://arxiv.org/abs/2002.02126)."""
from __future__ import annotations

from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt._checks import as_float, as_index, as_int
from glt.graph import CSRGraph
from glt.models.scoring import Scorer, dot_scorer
from glt.norm import gcn_norm
from glt.ops import spmm
from glt.samplers import NegativeSampler
from glt.samplers.shard import Shard


class LightGCN(nn.Module):
    r"""User and item embeddings smoothed by linear propagation.

    .. math::
        E^{(k+1)} = D^{-1/2} A D^{-1/2} E^{(k)}, \qquad
        E = \frac{1}{K + 1} \sum_{k=0}^{K} E^{(k)}

    over the symmetric user-item graph ``A`` (no self-loops; zero degree -> 0),
    through glt's CSR SpMM with the normalisation cached on the graph.

    Args:
        graph: ``CSRGraph [U + I, U + I]``, users first (``RecDataset.bipartite()``).
        num_users: ``U``.
        dim: embedding size.
        num_layers: ``K``.
        init_std: std of the normal initialisation (0.1 in the authors' code).
        decay: weight of the BPR loss's L2 term (1e-4 in the paper).
    """

    def __init__(self, graph: CSRGraph, num_users: int, dim: int = 64, num_layers: int = 3,
                 init_std: float = 0.1, decay: float = 1e-4) -> None:
        super().__init__()
        if not 0 < num_users < graph.num_nodes:
            raise ValueError(f"expected 0 < num_users < {graph.num_nodes} (graph nodes), "
                             f"got {num_users}")
        dim = as_int(dim, "dim", minimum=1)
        self.num_users, self.num_items = num_users, graph.num_nodes - num_users
        self.num_layers = as_int(num_layers, "num_layers", minimum=0)
        self.decay = as_float(decay, "decay")
        init_std = as_float(init_std, "init_std", strict=True)
        self.weight_decay = 0.0  # the L2 term is the loss's own, on the batch's rows
        self.graph = graph
        self.embedding = nn.Parameter(torch.empty(graph.num_nodes, dim))
        nn.init.normal_(self.embedding, std=init_std)

    def _apply(self, fn, recurse: bool = True):  # ``.to(device)`` moves the graph too
        super()._apply(fn, recurse)
        if self.graph.device != self.embedding.device:
            self.graph = self.graph.to(self.embedding.device)
        return self

    def propagate(self) -> Tensor:
        """``[U + I, dim]`` layer-mean embeddings."""
        adj = gcn_norm(self.graph, add_self_loops=False)
        out = h = self.embedding
        for _ in range(self.num_layers):
            h = spmm(adj, h)
            out = out + h
        return out / (self.num_layers + 1)

    def final_rows(self, nodes: Tensor) -> Tensor:
        """Rows ``nodes [R]`` of :meth:`propagate`, ``[R, dim]``: the last layer is
        computed for those rows only (``A[nodes] E^{(K-1)}``)."""
        if self.num_layers == 0:
            return self.embedding[nodes]
        adj = gcn_norm(self.graph, add_self_loops=False)
        out = h = self.embedding
        for _ in range(self.num_layers - 1):
            h = spmm(adj, h)
            out = out + h
        return (out[nodes] + spmm(adj, h, rows=nodes)) / (self.num_layers + 1)

    def forward(self) -> tuple[Tensor, Tensor]:
        """``(users [U, dim], items [I, dim])`` final embeddings."""
        return self.propagate().split([self.num_users, self.num_items])

    def batches(self, sampler: NegativeSampler, batch_size: int, generator: torch.Generator,
                shard: Shard = Shard(), local: Optional[torch.Generator] = None
                ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """One epoch as LightGCN's code draws it: as many BPR triples as training
        interactions, in batches of ``batch_size``. With several ranks each draws
        its ``1 / world_size`` share of the (independent) triples from ``local``."""
        if shard.active:
            triples = sampler.bpr(sampler.graph.num_edges // shard.world_size, generator=local)
        else:
            triples = sampler.bpr(generator=generator)
        yield from zip(*(t.split(batch_size) for t in triples))

    def loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        return self.bpr_loss(users, pos, neg, self.decay)

    def scorer(self) -> Scorer:
        """Dot products of the final embeddings, for evaluation."""
        users, items = self()
        return dot_scorer(users, items)

    def bpr_loss(self, users: Tensor, pos: Tensor, neg: Tensor, decay: float) -> Tensor:
        r"""Mean :math:`\mathrm{softplus}(s_{un} - s_{up})` plus
        ``decay`` :math:`\cdot \frac{1}{2}(\|e_u\|^2 + \|e_p\|^2 + \|e_n\|^2) / B` on the
        layer-0 embeddings of the batch (``users``, ``pos``, ``neg``: ``[B]``). The
        final embeddings are computed for the batch's rows only (:meth:`final_rows`)."""
        users = as_index(users, "users", bound=self.num_users)
        pos = as_index(pos, "pos (items)", length=users.numel(), bound=self.num_items)
        neg = as_index(neg, "neg (items)", length=users.numel(), bound=self.num_items)
        nodes, inverse = torch.cat([users, self.num_users + pos,
                                    self.num_users + neg]).unique(return_inverse=True)
        u, p, n = self.final_rows(nodes)[inverse].split(users.numel())
        loss = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean()
        reg = self.embedding[nodes][inverse].pow(2).sum() / (2 * users.numel())
        return loss + decay * reg
