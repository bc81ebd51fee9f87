"""Graph convolution of Kipf & Welling (ICLR 2017)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from glt.graph import CSRGraph, GraphLike, as_graph
from glt.norm import gcn_norm
from glt.ops import linear, spmm


class GCNConv(nn.Module):
    r"""Graph convolution, https://arxiv.org/abs/1609.02907.

    .. math::
        X' = \hat{D}^{-1/2} (A + I) \hat{D}^{-1/2} X W + b

    Same parameters and outputs as ``torch_geometric.nn.GCNConv``; the
    normalised adjacency is cached on the ``CSRGraph`` it is given.

    Args:
        in_channels: input feature size ``F``.
        out_channels: output feature size ``F'``.
        improved: use ``A + 2I`` (default ``False``).
        add_self_loops: add the ``I`` term (default ``True``).
        normalize: apply the symmetric normalisation (default ``True``);
            otherwise aggregate with the raw edge weights.
        bias: learn ``b`` (default ``True``).
        cached: keep the normalised adjacency of the first call and use it for every
            later call whatever graph is given, as PyG's ``cached=True`` (one graph
            only; saves rebuilding it from an ``edge_index`` or ``adj_t`` each call).

    Shapes:
        x ``[N, F]``, graph ``CSRGraph [N, N]`` or ``edge_index [2, E]``,
        optional ``edge_weight [E]`` with ``edge_index`` -> ``[N, F']``.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 add_self_loops: bool = True, normalize: bool = True, bias: bool = True,
                 cached: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.cached = in_channels, out_channels, cached
        self._cached_adj: Optional[CSRGraph] = None
        self.improved, self.add_self_loops, self.normalize = improved, add_self_loops, normalize
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._cached_adj = None
        nn.init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, graph: GraphLike, edge_weight: Optional[Tensor] = None) -> Tensor:
        adj = self._cached_adj
        if adj is None:
            graph = as_graph(graph, x.size(0), edge_weight)
            adj = (gcn_norm(graph, self.add_self_loops, self.improved) if self.normalize
                   else graph.transpose())
            if self.cached:
                self._cached_adj = adj
        out = spmm(adj, linear(x, self.lin.weight))
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"
