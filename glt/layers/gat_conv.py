"""Graph attention of Velickovic et al. (ICLR 2018)."""
from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import CSRGraph, GraphLike, as_graph
from glt.ops import dropout, linear, segment_softmax, spmm


def _attention_graph(graph: CSRGraph, add_self_loops: bool) -> CSRGraph:
    """Aggregation layout (rows = targets) with exactly one self-loop per node. Cached."""
    def compute() -> CSRGraph:
        adj = graph.transpose()
        if add_self_loops:
            adj = adj.remove_self_loops().add_self_loops()
        return adj.with_edge_weight(None)
    return graph.cached(("gat_adj", add_self_loops), compute)


def _heads_graph(adj: CSRGraph, heads: int) -> CSRGraph:
    """``heads`` copies of ``adj [N, N]`` down the diagonal of one ``[H * N, H * N]``
    graph: head ``k``'s rows and columns are ``k * N .. (k + 1) * N``, its entries
    ``k * E .. (k + 1) * E`` in ``adj``'s order. One spmm over it aggregates every
    head at once. Cached on ``adj``; ``adj`` itself for one head."""
    if heads == 1:
        return adj

    def compute() -> CSRGraph:
        n, e = adj.num_nodes, adj.num_edges
        shift = torch.arange(heads, device=adj.device).unsqueeze(1)  # [H, 1]
        rowptr = torch.cat([(adj.rowptr[:-1] + shift * e).reshape(-1),
                            adj.rowptr.new_full((1,), heads * e)])
        col = (adj.col + shift * n).reshape(-1)
        return CSRGraph(rowptr, col, num_cols=heads * n, validate=False)
    return adj.cached(("gat_heads", heads), compute)


class GATConv(nn.Module):
    r"""Multi-head graph attention, https://arxiv.org/abs/1710.10903.

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(a_s^\top W x_j + a_d^\top W x_i)\big),
        \qquad x'_i = \big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha^h_{ij} W^h x_j

    (heads concatenated, or averaged with ``concat=False``), plus a bias. Same
    parameters and outputs as ``torch_geometric.nn.GATConv``. The softmax runs
    over each target's incoming edges (contiguous rows of the cached transpose).

    Args:
        in_channels: input feature size ``F``.
        out_channels: per-head output size ``C``.
        heads: number of heads ``H`` (default 1).
        concat: concatenate heads to ``H * C`` (default) or average them to ``C``.
        negative_slope: LeakyReLU slope (default 0.2).
        dropout: dropout on the attention coefficients while training (default 0).
        add_self_loops: replace self-loops by one per node (default ``True``).
        bias: learn a bias (default ``True``).
        residual: add a linear map of the input, ``res(x)`` (no bias), to the
            output (default ``False``).

    Shapes:
        x ``[N, F]``, graph ``CSRGraph [N, N]`` or ``edge_index [2, E]`` ->
        ``[N, H * C]`` (or ``[N, C]``); with ``return_attention_weights`` also
        ``(edge_index [2, E'], alpha [E', H])`` over the edges attended.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 bias: bool = True, residual: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops = add_self_loops
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        size = heads * out_channels if concat else out_channels
        self.res = nn.Linear(in_channels, size, bias=False) if residual else None
        self.bias = nn.Parameter(torch.empty(size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        if self.res is not None:
            nn.init.xavier_uniform_(self.res.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, graph: GraphLike, return_attention_weights: bool = False
                ) -> Union[Tensor, tuple[Tensor, tuple[Tensor, Tensor]]]:
        num_nodes, heads, channels = x.size(0), self.heads, self.out_channels
        adj = _attention_graph(as_graph(graph, num_nodes), self.add_self_loops)
        h = linear(x, self.lin.weight).view(num_nodes, heads, channels)
        score_src = (h * self.att_src).sum(-1)  # [N, H]
        score_dst = (h * self.att_dst).sum(-1)
        target = adj.row()
        score = score_src.index_select(0, adj.col) + score_dst.index_select(0, target)
        alpha = segment_softmax(F.leaky_relu(score, self.negative_slope), adj.rowptr)  # [E, H]
        alpha_used = dropout(alpha, self.dropout, self.training)
        # every head in one spmm over the block-diagonal graph of the heads
        big = _heads_graph(adj, heads).with_edge_weight(alpha_used.t().reshape(-1))
        out = spmm(big, h.transpose(0, 1).reshape(heads * num_nodes, channels))
        out = out.view(heads, num_nodes, channels).transpose(0, 1)  # [N, H, C]
        out = out.reshape(num_nodes, heads * channels) if self.concat else out.mean(dim=1)
        if self.res is not None:
            out = out + linear(x, self.res.weight)
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            return out, (torch.stack([adj.col, target]), alpha)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"
