"""Local augmentation around any backbone: each input (the node features and
each generated feature set) gets its own first layer; their outputs are
concatenated and fed to the rest of the backbone."""
from __future__ import annotations

from functools import partial
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import GraphLike
from glt.layers import GATConv, GCNConv, SAGEConv
from glt.models.gnn import NodeClassifier
from glt.ops.dropout import dropout


class LAClassifier(nn.Module):
    """``inputs[k] -> dropout -> firsts[k] -> act``, concatenated, then ``rest``
    (a :class:`NodeClassifier`: dropout -> conv -> act ... -> conv).

    Returns logits ``[N, num_classes]`` for ``forward(xs, graph)`` with ``xs`` a
    list of ``len(firsts)`` feature matrices ``[N, F]``.
    """

    def __init__(self, firsts: Sequence[nn.Module], rest: NodeClassifier, dropout: float,
                 activation: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.firsts = nn.ModuleList(firsts)
        self.rest = rest
        self.dropout, self.activation = dropout, activation

    @property
    def num_inputs(self) -> int:
        return len(self.firsts)

    def forward(self, xs: Sequence[Tensor], graph: GraphLike) -> Tensor:
        if len(xs) != self.num_inputs:
            raise ValueError(f"expected {self.num_inputs} feature matrices (the features and "
                             f"{self.num_inputs - 1} generated sets), got {len(xs)}")
        hidden = [self.activation(conv(dropout(x, self.dropout, self.training), graph))
                  for conv, x in zip(self.firsts, xs)]
        return self.rest(torch.cat(hidden, dim=-1), graph)


INITS = ("glorot", "lagnn")


def lagnn_init_(conv: GCNConv) -> None:
    r"""The LA-GNN code's ``GraphConvolution`` initialisation: weight and bias drawn
    from :math:`\mathcal{N}(-s, s^2)`, :math:`s = 1/\sqrt{\text{out}}` (its
    ``normal_(-stdv, stdv)``: mean ``-s``, std ``s``)."""
    s = conv.lin.weight.size(0) ** -0.5
    with torch.no_grad():
        conv.lin.weight.normal_(-s, s)
        if conv.bias is not None:
            conv.bias.normal_(-s, s)


def la_backbone(kind: str, in_channels: int, hidden: int, num_classes: int, num_inputs: int,
                dropout: float = 0.5, heads: int = 8, num_layers: int = 2,
                init: str = "glorot", elu_alpha: Optional[float] = None) -> LAClassifier:
    """An LA-GCN, LA-SAGE or LA-GAT of ``num_layers`` layers whose first layer is
    repeated once per input (``num_inputs`` of them).

    GAT: hidden layers of ``heads`` concatenated heads with ELU (``elu_alpha``,
    default 1; the LA-GNN code's LA-GAT uses 0.2), an output layer of one head;
    GCN / SAGE: ReLU. ``init="lagnn"`` (GCN only) initialises every
    layer as the LA-GNN code does (:func:`lagnn_init_`); the default keeps the
    layers' own (Glorot weights, zero bias).
    """
    if init not in INITS:
        raise ValueError(f"expected init one of {INITS}, got {init!r}")
    if init == "lagnn" and kind != "gcn":
        raise ValueError(f"init 'lagnn' is the LA-GNN code's GCN initialisation; "
                         f"got kind {kind!r}")
    if elu_alpha is not None and kind != "gat":
        raise ValueError(f"elu_alpha sets LA-GAT's ELU; got kind {kind!r}")
    if num_inputs < 1:
        raise ValueError(f"expected num_inputs >= 1, got {num_inputs}")
    if num_layers < 2:
        raise ValueError(f"expected num_layers >= 2 (a first layer and an output layer), "
                         f"got {num_layers}")
    if kind not in ("gcn", "sage", "gat"):
        raise ValueError(f"expected kind 'gcn', 'sage' or 'gat', got {kind!r}")
    width = hidden * (heads if kind == "gat" else 1)  # one first layer's output size

    def conv(n_in: int, n_out: int, last: bool) -> nn.Module:
        if kind == "gcn":
            return GCNConv(n_in, n_out)
        if kind == "sage":
            return SAGEConv(n_in, n_out)
        if last:
            return GATConv(n_in, n_out, heads=1, concat=False, dropout=dropout)
        return GATConv(n_in, n_out, heads=heads, dropout=dropout)
    firsts = [conv(in_channels, hidden, False) for _ in range(num_inputs)]
    rest = [conv(num_inputs * width if i == 0 else width, hidden, False)
            for i in range(num_layers - 2)]
    rest.append(conv(width if rest else num_inputs * width, num_classes, True))
    act = partial(F.elu, alpha=1.0 if elu_alpha is None else elu_alpha) \
        if kind == "gat" else F.relu
    if init == "lagnn":
        for layer in firsts + rest:
            lagnn_init_(layer)
    return LAClassifier(firsts, NodeClassifier(rest, dropout, act), dropout, act)


def consistency_loss(log_probs: Sequence[Tensor], temperature: float) -> Tensor:
    r"""Mean squared distance of each prediction to the sharpened average,
    :math:`\bar p^{1/T} / \sum \bar p^{1/T}` (held constant), as the LA-GNN code."""
    probs = [lp.exp() for lp in log_probs]
    avg = torch.stack(probs).mean(0)
    sharp = avg.pow(1.0 / temperature)
    sharp = (sharp / sharp.sum(1, keepdim=True)).detach()
    return torch.stack([(p - sharp).pow(2).sum(1).mean() for p in probs]).mean()
