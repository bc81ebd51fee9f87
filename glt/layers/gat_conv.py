"""Graph attention of Velickovic et al. (ICLR 2018)."""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import CSRGraph, GraphLike, as_graph, is_sparse_adjacency
from glt.ops import dropout, linear, segment_softmax, spmm


def _attention_graph(graph: CSRGraph, add_self_loops: bool) -> CSRGraph:
    """Aggregation layout (rows = targets) with exactly one self-loop per node. Cached."""
    def compute() -> CSRGraph:
        adj = graph.transpose()
        if add_self_loops:
            adj = adj.remove_self_loops().add_self_loops()
        return adj.with_edge_weight(None)
    return graph.cached(("gat_adj", add_self_loops), compute)


def _entry_positions(graph: CSRGraph, add_self_loops: bool) -> Tensor:
    """For each entry of :func:`_attention_graph` ``(graph)``, its position in
    ``graph``'s CSR order (``-1`` for an added self-loop). Cached."""
    def compute() -> Tensor:
        tagged = CSRGraph(graph.rowptr, graph.col, None, graph.num_cols,
                          torch.arange(graph.num_edges, device=graph.device), validate=False)
        return _attention_graph(tagged, add_self_loops).edge_id
    return graph.cached(("gat_positions", add_self_loops), compute)


_LOOP_REDUCE = {"add": "sum", "sum": "sum", "mean": "mean", "max": "amax", "min": "amin",
                "mul": "prod"}


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
        edge_dim: size ``D`` of edge features that join the attention scores
            (``a_e^T W_e e_ij``), given to :meth:`forward` as ``edge_attr``.
        fill_value: edge features of the added self-loops: a number, a ``[D]``
            tensor, or how to reduce each node's incoming edge features
            (``"mean"``, default; ``"add"``, ``"max"``, ``"min"``, ``"mul"``).

    Shapes:
        x ``[N, F]``, graph ``CSRGraph [N, N]`` or ``edge_index [2, E]`` ->
        ``[N, H * C]`` (or ``[N, C]``); with ``return_attention_weights`` also
        ``(edge_index [2, E'], alpha [E', H])`` over the edges attended.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 bias: bool = True, residual: bool = False, edge_dim: Optional[int] = None,
                 fill_value: Union[float, Tensor, str] = "mean") -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        if isinstance(fill_value, str) and fill_value not in _LOOP_REDUCE:
            raise ValueError(f"expected fill_value to be a number, a tensor or one of "
                             f"{', '.join(_LOOP_REDUCE)}, got {fill_value!r}")
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.lin_edge = self.att_edge = None
        if edge_dim is not None:
            self.lin_edge = nn.Linear(edge_dim, heads * out_channels, bias=False)
            self.att_edge = nn.Parameter(torch.empty(1, heads, out_channels))
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
        if self.lin_edge is not None:
            nn.init.xavier_uniform_(self.lin_edge.weight)
            nn.init.xavier_uniform_(self.att_edge)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, graph: GraphLike, edge_attr: Optional[Tensor] = None,
                return_attention_weights: bool = False
                ) -> Union[Tensor, tuple[Tensor, tuple[Tensor, Tensor]]]:
        num_nodes, heads, channels = x.size(0), self.heads, self.out_channels
        csr = as_graph(graph, num_nodes)
        adj = _attention_graph(csr, self.add_self_loops)
        h = linear(x, self.lin.weight).view(num_nodes, heads, channels)
        score_src = (h * self.att_src).sum(-1)  # [N, H]
        score_dst = (h * self.att_dst).sum(-1)
        target = adj.row()
        score = score_src.index_select(0, adj.col) + score_dst.index_select(0, target)
        if (edge_attr is None) != (self.lin_edge is None):
            raise ValueError("expected edge_attr exactly when the layer has edge_dim, got "
                             f"edge_dim={self.edge_dim} and edge_attr "
                             f"{'None' if edge_attr is None else tuple(edge_attr.shape)}")
        if edge_attr is not None:
            edges = self._edge_features(csr, graph, edge_attr, target)
            score = score + (edges.view(-1, heads, channels) * self.att_edge).sum(-1)
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

    def _edge_features(self, csr: CSRGraph, given: GraphLike, edge_attr: Tensor,
                       target: Tensor) -> Tensor:
        """``W_e e`` of every attended entry ``[E', H * C]``: ``edge_attr [E, D]`` in the
        order of the ``edge_index`` given (for a ``CSRGraph``, its CSR order), the
        added self-loops' from ``fill_value``."""
        if is_sparse_adjacency(given):
            raise ValueError("expected an edge_index or a CSRGraph with edge_attr, got a "
                             "sparse adjacency")
        if edge_attr.dim() != 2 or edge_attr.shape != (csr.num_edges, self.edge_dim):
            raise ValueError(f"expected edge_attr of shape [{csr.num_edges}, {self.edge_dim}], "
                             f"got {tuple(edge_attr.shape)}")
        if not isinstance(given, CSRGraph):  # edge_index order -> the graph's CSR order
            edge_attr = edge_attr.index_select(0, csr.edge_id)
        where = _entry_positions(csr, self.add_self_loops)
        loop = where < 0
        attr = edge_attr.index_select(0, where.clamp(min=0))
        if bool(loop.any()):
            if isinstance(self.fill_value, str):
                rows = target[~loop].unsqueeze(1).expand(-1, attr.size(1))
                fill = attr.new_zeros(csr.num_nodes, attr.size(1)).scatter_reduce(
                    0, rows, attr[~loop], _LOOP_REDUCE[self.fill_value], include_self=False)
                attr = attr.index_put((loop,), fill.index_select(0, target[loop]))
            else:
                attr = attr.index_put((loop,), torch.as_tensor(
                    self.fill_value, dtype=attr.dtype, device=attr.device).expand(
                        int(loop.sum()), attr.size(1)))
        return linear(attr, self.lin_edge.weight)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"
