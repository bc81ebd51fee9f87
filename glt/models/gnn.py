"""Full-graph node classifiers: GCN, GAT and GraphSAGE stacks on glt's layers."""
from __future__ import annotations

from typing import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import GraphLike
from glt.layers import GATConv, GCNConv, SAGEConv
from glt.ops import dropout


class NodeClassifier(nn.Module):
    """``dropout -> conv -> act`` repeated, the last conv without activation.

    The layout of the reference GCN (Kipf & Welling) and GAT (Velickovic et al.)
    models: dropout on the input features and on every hidden representation.
    Returns logits ``[N, num_classes]``.
    """

    def __init__(self, convs: list[nn.Module], dropout: float,
                 activation: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.dropout = dropout
        self.activation = activation

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, graph: GraphLike) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = dropout(x, self.dropout, self.training)
            x = conv(x, graph)
            if i < len(self.convs) - 1:
                x = self.activation(x)
        return x


def _widths(in_channels: int, hidden: int, out_channels: int, num_layers: int) -> list[int]:
    if num_layers < 1:
        raise ValueError(f"expected num_layers >= 1, got {num_layers}")
    return [in_channels] + [hidden] * (num_layers - 1) + [out_channels]


class GCN(NodeClassifier):
    """Kipf & Welling's GCN: ``num_layers`` GCNConv with ReLU (paper: 2 layers, 16 hidden)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5) -> None:
        w = _widths(in_channels, hidden_channels, out_channels, num_layers)
        super().__init__([GCNConv(a, b) for a, b in zip(w[:-1], w[1:])], dropout, F.relu)


class GraphSAGE(NodeClassifier):
    """GraphSAGE: ``num_layers`` SAGEConv with ReLU."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, aggr: str = "mean") -> None:
        w = _widths(in_channels, hidden_channels, out_channels, num_layers)
        super().__init__([SAGEConv(a, b, aggr=aggr) for a, b in zip(w[:-1], w[1:])], dropout,
                         F.relu)


class GAT(NodeClassifier):
    """Velickovic et al.'s GAT: hidden layers of ``heads`` concatenated heads with
    ELU, an output layer of ``out_heads`` averaged heads; attention dropout
    equals feature dropout (paper, Cora: 8 heads x 8 hidden, 1 output head, 0.6)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, heads: int = 8, out_heads: int = 1,
                 dropout: float = 0.6) -> None:
        w = _widths(in_channels, hidden_channels, out_channels, num_layers)
        convs = [GATConv(a if i == 0 else a * heads, b, heads=heads, dropout=dropout)
                 for i, (a, b) in enumerate(zip(w[:-2], w[1:-1]))]
        last_in = w[-2] * heads if num_layers > 1 else w[-2]
        convs.append(GATConv(last_in, w[-1], heads=out_heads, concat=False, dropout=dropout))
        super().__init__(convs, dropout, F.elu)
