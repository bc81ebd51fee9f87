"""Local augmentation around any backbone: each input (the node features and
each generated feature set) gets its own first layer; their outputs are
concatenated and fed to the rest of the backbone."""
from __future__ import annotations

from functools import partial
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.graph import GraphLike, as_graph
from glt.layers import GATConv, GCNConv, SAGEConv
from glt.models.gnn import NodeClassifier, batch_norms
from glt.ops.dropout import dropout


class LAClassifier(nn.Module):
    """``inputs[k] -> dropout -> firsts[k] -> norms[k] -> act``, concatenated, then
    ``rest`` (a :class:`NodeClassifier`: dropout -> conv -> act ... -> conv).

    ``input_dropout=False`` leaves the inputs undropped and ``norms`` (one per
    input) go before the activation: the LA-GNN code's OGB models. Returns
    logits ``[N, num_classes]`` for ``forward(xs, graph)`` with ``xs`` a list of
    ``len(firsts)`` feature matrices ``[N, F]``.
    """

    def __init__(self, firsts: Sequence[nn.Module], rest: NodeClassifier, dropout: float,
                 activation: Callable[[Tensor], Tensor],
                 norms: Optional[Sequence[nn.Module]] = None,
                 input_dropout: bool = True) -> None:
        super().__init__()
        self.firsts = nn.ModuleList(firsts)
        self.norms = nn.ModuleList(norms) if norms is not None else None
        self.rest = rest
        self.dropout, self.activation = dropout, activation
        self.input_dropout = input_dropout

    @property
    def num_inputs(self) -> int:
        return len(self.firsts)

    def forward(self, xs: Sequence[Tensor], graph: GraphLike) -> Tensor:
        _check_inputs(xs, self.num_inputs)
        graph = as_graph(graph, xs[0].size(0))  # once for every layer
        hidden = []
        for k, (conv, x) in enumerate(zip(self.firsts, xs)):
            h = conv(dropout(x, self.dropout, self.training) if self.input_dropout else x, graph)
            hidden.append(self.activation(self.norms[k](h) if self.norms is not None else h))
        return self.rest(torch.cat(hidden, dim=-1), graph)


class LAMean(nn.Module):
    """The mean of the inputs (the features and the generated sets) fed to one
    ``backbone(x, graph)``: the LA-GNN code's ogbn-products GraphSAGE, which
    trains on ``(x_hat + x) / 2``. ``forward(xs [num_inputs of [N, F]], graph)``."""

    def __init__(self, backbone: nn.Module, num_inputs: int) -> None:
        super().__init__()
        self.backbone, self.num_inputs = backbone, num_inputs

    def forward(self, xs: Sequence[Tensor], graph: GraphLike) -> Tensor:
        _check_inputs(xs, self.num_inputs)
        dense = [x if x.layout == torch.strided else x.to_dense() for x in xs]
        return self.backbone(torch.stack(dense).mean(0), graph)


def _check_inputs(xs: Sequence[Tensor], num_inputs: int) -> None:
    if len(xs) != num_inputs:
        raise ValueError(f"expected {num_inputs} feature matrices (the features and "
                         f"{num_inputs - 1} generated sets), got {len(xs)}")


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
                init: str = "glorot", elu_alpha: Optional[float] = None,
                batch_norm: bool = False, input_dropout: bool = True,
                combine: str = "concat") -> nn.Module:
    """An LA-GCN, LA-SAGE or LA-GAT of ``num_layers`` layers.

    ``combine="concat"`` (:class:`LAClassifier`): the first layer is repeated
    once per input (``num_inputs`` of them), their outputs concatenated; later
    hidden layers keep the concatenated width (``num_inputs x hidden``), as the
    LA-GNN code's models. ``combine="mean"`` (:class:`LAMean`): one backbone on
    the mean of the inputs.

    GAT: hidden layers of ``heads`` concatenated heads with ELU (``elu_alpha``,
    default 1; the LA-GNN code's LA-GAT uses 0.2), an output layer of one head;
    GCN / SAGE: ReLU. ``batch_norm`` (GCN / SAGE) puts a ``BatchNorm1d`` between
    every hidden conv and its activation and ``input_dropout=False`` leaves the
    inputs undropped: the LA-GNN code's OGB models (``conv -> norm -> act ->
    dropout``). ``init="lagnn"`` (GCN only) initialises every layer as the LA-GNN
    code does (:func:`lagnn_init_`); the default keeps the layers' own (Glorot
    weights, zero bias).
    """
    if init not in INITS:
        raise ValueError(f"expected init one of {INITS}, got {init!r}")
    if init == "lagnn" and kind != "gcn":
        raise ValueError(f"init 'lagnn' is the LA-GNN code's GCN initialisation; "
                         f"got kind {kind!r}")
    if elu_alpha is not None and kind != "gat":
        raise ValueError(f"elu_alpha sets LA-GAT's ELU; got kind {kind!r}")
    if batch_norm and kind == "gat":
        raise ValueError("batch_norm applies to LA-GCN and LA-SAGE, not gat")
    if combine not in ("concat", "mean"):
        raise ValueError(f"expected combine 'concat' or 'mean', got {combine!r}")
    if num_inputs < 1:
        raise ValueError(f"expected num_inputs >= 1, got {num_inputs}")
    if num_layers < 2:
        raise ValueError(f"expected num_layers >= 2 (a first layer and an output layer), "
                         f"got {num_layers}")
    if kind not in ("gcn", "sage", "gat"):
        raise ValueError(f"expected kind 'gcn', 'sage' or 'gat', got {kind!r}")
    per_head = heads if kind == "gat" else 1

    def conv(n_in: int, n_out: int, last: bool) -> nn.Module:
        if kind == "gcn":
            return GCNConv(n_in, n_out)
        if kind == "sage":
            return SAGEConv(n_in, n_out)
        if last:
            return GATConv(n_in, n_out, heads=1, concat=False, dropout=dropout)
        return GATConv(n_in, n_out, heads=heads, dropout=dropout)
    act = partial(F.elu, alpha=1.0 if elu_alpha is None else elu_alpha) \
        if kind == "gat" else F.relu
    branches = 1 if combine == "mean" else num_inputs
    firsts = [conv(in_channels, hidden, False) for _ in range(branches)]
    width = branches * hidden  # hidden layers' width (per head)
    rest = [conv(width * per_head, width, False) for _ in range(num_layers - 2)]
    rest.append(conv(width * per_head, num_classes, True))
    if init == "lagnn":
        for layer in firsts + rest:
            lagnn_init_(layer)

    def norms(count: int, size: int) -> Optional[list[nn.Module]]:
        return batch_norms([size] * count) if batch_norm else None
    if combine == "mean":
        return LAMean(NodeClassifier(firsts + rest, dropout, act, norms(len(rest), width),
                                     input_dropout), num_inputs)
    return LAClassifier(firsts, NodeClassifier(rest, dropout, act, norms(len(rest) - 1, width)),
                        dropout, act, norms(len(firsts), hidden), input_dropout)


def consistency_loss(log_probs: Sequence[Tensor], temperature: float) -> Tensor:
    r"""Mean squared distance of each prediction to the sharpened average,
    :math:`\bar p^{1/T} / \sum \bar p^{1/T}` (held constant), as the LA-GNN code."""
    probs = [lp.exp() for lp in log_probs]
    avg = torch.stack(probs).mean(0)
    sharp = avg.pow(1.0 / temperature)
    sharp = (sharp / sharp.sum(1, keepdim=True)).detach()
    return torch.stack([(p - sharp).pow(2).sum(1).mean() for p in probs]).mean()
