"""Full-graph node classifiers: GCN, GAT and GraphSAGE stacks on glt's layers."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from glt._checks import as_int, as_probability
from glt.graph import GraphLike, as_graph
from glt.layers import GATConv, GCNConv, SAGEConv
from glt.ops import dropout


class NodeClassifier(nn.Module):
    """``dropout -> conv -> act`` repeated, the last conv without activation.

    The layout of the reference GCN (Kipf & Welling) and GAT (Velickovic et al.)
    models: dropout on the input features and on every hidden representation.
    ``norms`` (one module per hidden layer, e.g. ``BatchNorm1d``) go between a
    conv and its activation; ``input_dropout=False`` leaves the input features
    undropped. With both, the layout is OGB's example GCN / GraphSAGE: ``conv ->
    norm -> act -> dropout`` repeated, then the last conv.
    Returns logits ``[N, num_classes]``.
    """

    def __init__(self, convs: list[nn.Module], dropout: float,
                 activation: Callable[[Tensor], Tensor],
                 norms: Optional[Sequence[nn.Module]] = None,
                 input_dropout: bool = True) -> None:
        super().__init__()
        if norms is not None and len(norms) != len(convs) - 1:
            raise ValueError(f"expected one norm per hidden layer ({len(convs) - 1}), "
                             f"got {len(norms)}")
        self.convs = nn.ModuleList(convs)
        self.norms = None if norms is None else nn.ModuleList(norms)
        self.dropout = as_probability(dropout, "dropout")
        self.activation = activation
        self.input_dropout = input_dropout

    def reset_parameters(self) -> None:
        for layer in list(self.convs) + list(self.norms or []):
            layer.reset_parameters()

    def forward(self, x: Tensor, graph: GraphLike) -> Tensor:
        """Logits ``[N, num_classes]`` of features ``x [N, F]`` (integer features
        used as floats, :func:`float_features`) over ``graph``."""
        graph = as_graph(graph, x.size(0))  # once: its normalisation serves every layer
        x = float_features(x)
        for i, conv in enumerate(self.convs):
            if i > 0 or self.input_dropout:
                x = dropout(x, self.dropout, self.training)
            x = conv(x, graph)
            if i < len(self.convs) - 1:
                if self.norms is not None:
                    x = self.norms[i](x)
                x = self.activation(x)
        return x


def float_features(x: Optional[Tensor]) -> Optional[Tensor]:
    """``x [N, F]`` as floats: integer features (ogbl-ppa's one-hot species, which
    OGB's release stores as integers; counts) become float32, as OGB's example
    casts them."""
    return x if x is None or x.is_floating_point() else x.float()


def batch_norms(widths: Sequence[int]) -> list[nn.Module]:
    """One ``BatchNorm1d`` per width (OGB's example models' hidden layers)."""
    return [nn.BatchNorm1d(w) for w in widths]


def layer_widths(in_channels: int, hidden: int, out_channels: int, num_layers: int
                 ) -> list[int]:
    """``[in, hidden, ..., hidden, out]``: the widths of ``num_layers`` stacked
    layers, each a positive integer."""
    num_layers = as_int(num_layers, "num_layers", minimum=1)
    inner = [as_int(hidden, "hidden_channels", minimum=1)] * (num_layers - 1)
    return [as_int(in_channels, "in_channels", minimum=1), *inner,
            as_int(out_channels, "out_channels", minimum=1)]


class GCN(NodeClassifier):
    """Kipf & Welling's GCN: ``num_layers`` GCNConv with ReLU (paper: 2 layers, 16
    hidden). ``batch_norm=True, input_dropout=False``: OGB's example GCN."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, batch_norm: bool = False,
                 input_dropout: bool = True) -> None:
        w = layer_widths(in_channels, hidden_channels, out_channels, num_layers)
        super().__init__([GCNConv(a, b) for a, b in zip(w[:-1], w[1:])], dropout, F.relu,
                         batch_norms(w[1:-1]) if batch_norm else None, input_dropout)


class GraphSAGE(NodeClassifier):
    """GraphSAGE: ``num_layers`` SAGEConv with ReLU. ``input_dropout=False`` (and
    ``batch_norm=True`` on ogbn-arxiv): OGB's example GraphSAGE."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5, aggr: str = "mean",
                 batch_norm: bool = False, input_dropout: bool = True) -> None:
        w = layer_widths(in_channels, hidden_channels, out_channels, num_layers)
        super().__init__([SAGEConv(a, b, aggr=aggr) for a, b in zip(w[:-1], w[1:])], dropout,
                         F.relu, batch_norms(w[1:-1]) if batch_norm else None, input_dropout)


class GAT(NodeClassifier):
    """Velickovic et al.'s GAT: hidden layers of ``heads`` concatenated heads with
    ELU, an output layer of ``out_heads`` averaged heads; attention dropout
    equals feature dropout (paper, Cora: 8 heads x 8 hidden, 1 output head, 0.6)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, heads: int = 8, out_heads: int = 1,
                 dropout: float = 0.6) -> None:
        w = layer_widths(in_channels, hidden_channels, out_channels, num_layers)
        convs = [GATConv(a if i == 0 else a * heads, b, heads=heads, dropout=dropout)
                 for i, (a, b) in enumerate(zip(w[:-2], w[1:-1]))]
        last_in = w[-2] * heads if num_layers > 1 else w[-2]
        convs.append(GATConv(last_in, w[-1], heads=out_heads, concat=False, dropout=dropout))
        super().__init__(convs, dropout, F.elu)
