"""Link prediction on glt's layers: a GNN encoder of the nodes and OGB's link
predictor on pairs of them (the models of OGB's ``examples/linkproppred``)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from glt.graph import GraphLike
from glt._checks import as_probability
from glt.models.gnn import GCN, GraphSAGE, layer_widths
from glt.ops import dropout, pair_product


class LinkPredictor(nn.Module):
    r"""OGB's link predictor: an MLP on the Hadamard product of two node
    representations, :math:`\mathrm{MLP}(h_i \odot h_j)`, returning a logit.

    Args:
        in_channels: size ``H`` of a node representation.
        hidden_channels: width of the hidden layers.
        num_layers: linear layers (ReLU and dropout between them; default 2).
        dropout: dropout rate after each hidden layer (default 0.5).

    Shapes:
        h_i, h_j ``[M, H]`` -> logits ``[M]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__()
        widths = layer_widths(in_channels, hidden_channels, 1, num_layers)
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = as_probability(dropout, "dropout")

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()

    def forward(self, h_i: Tensor, h_j: Tensor) -> Tensor:
        return self.mlp(h_i * h_j)

    def mlp(self, x: Tensor) -> Tensor:
        """Logits ``[M]`` of Hadamard products ``x [M, H]``."""
        for lin in self.lins[:-1]:
            x = dropout(torch.relu(lin(x)), self.dropout, self.training)
        return self.lins[-1](x).view(-1)


class LinkModel(nn.Module):
    """A node encoder (``encoder(x, graph) -> [N, H]``) and a pair scorer.

    Sets without node features (ogbl-ddi) learn one embedding per node
    (``num_nodes`` given), initialised Xavier-uniform as OGB's example does.

    Args:
        encoder: GNN over the training graph, e.g. :func:`link_encoder`.
        predictor: scores pairs of encoded nodes (:class:`LinkPredictor`).
        num_nodes: learn ``[num_nodes, embedding_dim]`` input embeddings.
        embedding_dim: their size (the encoder's input size).
    """

    def __init__(self, encoder: nn.Module, predictor: LinkPredictor,
                 num_nodes: Optional[int] = None, embedding_dim: Optional[int] = None) -> None:
        super().__init__()
        self.encoder, self.predictor = encoder, predictor
        self.embedding = None
        if num_nodes is not None:
            if embedding_dim is None:
                raise ValueError("expected embedding_dim with num_nodes (learned embeddings)")
            self.embedding = nn.Embedding(num_nodes, embedding_dim)
            nn.init.xavier_uniform_(self.embedding.weight)

    def encode(self, x: Optional[Tensor], graph: GraphLike) -> Tensor:
        """``[N, H]`` node representations (``x`` ignored with learned embeddings;
        integer features used as floats by the encoder, :func:`~glt.models.gnn.float_features`)."""
        if self.embedding is not None:
            x = self.embedding.weight
        elif x is None:
            raise ValueError("expected node features x: this model learns no embeddings")
        return self.encoder(x, graph)

    def score(self, h: Tensor, edges: Tensor) -> Tensor:
        """Logits ``[M]`` of the node pairs ``edges [M, 2]`` under ``h [N, H]``
        (the products of the pairs through :func:`~glt.ops.pair_product`)."""
        return self.predictor.mlp(pair_product(h, edges))


def link_encoder(kind: str, in_channels: int, hidden: int, num_layers: int = 2,
                 dropout: float = 0.5) -> nn.Module:
    """OGB's example encoders: ``conv -> ReLU -> dropout`` repeated, the last conv
    alone; ``kind`` is ``"gcn"`` (GCNConv, symmetric normalisation with self-loops)
    or ``"sage"`` (mean GraphSAGE)."""
    common = dict(num_layers=num_layers, dropout=dropout, input_dropout=False)
    if kind == "gcn":
        return GCN(in_channels, hidden, hidden, **common)
    if kind == "sage":
        return GraphSAGE(in_channels, hidden, hidden, **common)
    raise ValueError(f"expected the encoder 'gcn' or 'sage', got {kind!r}")
