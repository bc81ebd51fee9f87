"""GraphSAGE convolution of Hamilton et al. (NeurIPS 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import GraphLike, as_graph
from glt.ops import linear, spmm


class SAGEConv(nn.Module):
    r"""GraphSAGE layer, https://arxiv.org/abs/1706.02216.

    .. math::
        x'_i = W_1 x_i + W_2 \cdot \mathrm{aggr}_{j \in \mathcal{N}(i)} x_j + b

    Same parameters and outputs as ``torch_geometric.nn.SAGEConv``
    (``lin_l`` = :math:`W_2, b`, ``lin_r`` = :math:`W_1`). For sum/mean the
    linear map runs before the aggregation when it shrinks the features.

    Args:
        in_channels: input feature size ``F``.
        out_channels: output feature size ``F'``.
        aggr: ``"mean"`` (default), ``"sum"`` or ``"max"``.
        normalize: L2-normalise the output rows (default ``False``).
        root_weight: add the :math:`W_1 x_i` term (default ``True``).
        bias: learn ``b`` (default ``True``).
        project: pass the neighbours' features through ``relu(lin(x))`` (an
            ``F x F`` map with bias) before aggregating them (default ``False``).

    Shapes:
        x ``[N, F]``, graph ``CSRGraph [N, N]`` or ``edge_index [2, E]`` -> ``[N, F']``.
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, bias: bool = True,
                 project: bool = False) -> None:
        super().__init__()
        if aggr not in ("mean", "sum", "max"):
            raise ValueError(f"expected aggr to be 'mean', 'sum' or 'max', got {aggr!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.aggr, self.normalize, self.root_weight = aggr, normalize, root_weight
        self.lin = nn.Linear(in_channels, in_channels) if project else None
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None

    def reset_parameters(self) -> None:
        for lin in (self.lin, self.lin_l, self.lin_r):
            if lin is not None:
                lin.reset_parameters()

    def forward(self, x: Tensor, graph: GraphLike) -> Tensor:
        adj = as_graph(graph, x.size(0)).transpose()
        if adj.edge_weight is not None:  # GraphSAGE ignores edge weights, as PyG does
            adj = adj.with_edge_weight(None)
        src = x if self.lin is None else F.relu(linear(x, self.lin.weight) + self.lin.bias)
        if self.aggr != "max" and self.out_channels < self.in_channels:
            out = spmm(adj, linear(src, self.lin_l.weight), self.aggr)
            if self.lin_l.bias is not None:
                out = out + self.lin_l.bias
        else:  # aggregate the features themselves (dense: max needs every entry)
            dense = src.to_dense() if src.layout == torch.sparse_csr else src
            out = linear(spmm(adj, dense, self.aggr), self.lin_l.weight, self.lin_l.bias)
        if self.lin_r is not None:
            out = out + linear(x, self.lin_r.weight)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr!r}"
