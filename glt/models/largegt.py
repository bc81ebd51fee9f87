"""LargeGT (Dwivedi et al., "Graph Transformers for Large Graphs", 2023,
https://arxiv.org/abs/2312.11109): local attention over sampled 2-hop tokens,
global attention to a k-means codebook."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt._checks import check_features
from glt.graph import CSRGraph
from glt.layers.attention import MultiHeadAttention
from glt.layers.codebook import EMACodebook
from glt.norm import gcn_norm
from glt.ops import spmm
from glt.samplers.tokens import TokenSampler


def hop_features(graph: CSRGraph, x: Tensor, hops: int = 2) -> list[Tensor]:
    r"""``[X, \hat A X, ..., \hat A^{hops} X]`` with
    :math:`\hat A = D^{-1/2} (A + I) D^{-1/2}`, each ``[N, F]``, through glt's SpMM."""
    check_features(x, "x", rows=graph.num_nodes)
    adj = gcn_norm(graph)
    out = [x]
    with torch.no_grad():
        for _ in range(hops):
            out.append(spmm(adj, out[-1]))
    return out


class TokenInputs:
    """LargeGT's inputs for batches of nodes: each node's ``K`` sampled tokens
    (itself and ``K - 1`` nodes of its 2-hop neighbourhood, see
    :class:`glt.samplers.TokenSampler`), each giving ``[X_u, \\hat A X_u,
    \\hat A^2 X_u]``: ``3K`` token features per node and a 4-hop receptive field.

    Args:
        graph: square ``CSRGraph``.
        x: ``[N, F]`` node features.
        num_tokens: ``K``.
    """

    def __init__(self, graph: CSRGraph, x: Tensor, num_tokens: int) -> None:
        self.hops = torch.stack(hop_features(graph, x), dim=1)  # [N, 3, F]
        self.x = x
        self.sampler = TokenSampler(graph, num_tokens)

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def __call__(self, nodes: Tensor, seed: Optional[int] = None
                 ) -> tuple[Tensor, Tensor, Tensor]:
        """``(tokens [B, 3K, F], padding mask [B, 3K], node features [B, F])``;
        a node without enough neighbours has its missing tokens masked."""
        ids = self.sampler.sample(nodes.cpu(), seed=seed).to(self.x.device)  # [B, K]
        pad = ids < 0
        feats = self.hops[ids.clamp(min=0)]  # [B, K, 3, F]
        b, k = ids.shape
        mask = pad.unsqueeze(2).expand(b, k, 3).reshape(b, 3 * k)
        return feats.reshape(b, 3 * k, -1), mask, self.x[nodes.to(self.x.device)]


class LargeGT(nn.Module):
    """Local module (token MLP, one pre-LayerNorm attention layer over the ``3K``
    tokens, final LayerNorm, attention-weighted readout) and global module
    (queries from the node's features, keys and values from an EMA k-means
    codebook of ``num_codes`` centroids, ``log(cluster size)`` attention bias),
    concatenated, then a feed-forward block and a classifier.

    ``forward(tokens [B, 3K, F], mask [B, 3K], x [B, F])`` -> logits ``[B, C]``.
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int, heads: int = 2,
                 global_dim: int = 64, num_codes: int = 4096, dropout: float = 0.1,
                 attn_dropout: float = 0.1, input_dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.token_mlp = nn.Sequential(nn.Linear(in_channels, hidden), nn.GELU(),
                                       nn.Linear(hidden, hidden))
        self.hop_embedding = nn.Parameter(torch.zeros(3, hidden))  # which of X, AX, A^2X
        self.pre_norm = nn.LayerNorm(hidden)
        self.attention = MultiHeadAttention(hidden, heads, hidden, attn_dropout)
        self.final_norm = nn.LayerNorm(hidden)
        self.readout = nn.Linear(hidden, 1)
        self.global_in = nn.Linear(in_channels, global_dim)
        self.codebook = EMACodebook(num_codes, global_dim)
        self.q = nn.Linear(global_dim, global_dim)
        self.k = nn.Linear(global_dim, global_dim)
        self.v = nn.Linear(global_dim, global_dim)
        self.ffn = nn.Sequential(nn.Linear(hidden + global_dim, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, hidden))
        self.classifier = nn.Linear(hidden, num_classes)
        self.dropout, self.input_dropout = dropout, input_dropout

    def local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``[B, hidden]`` readout of ``tokens [B, 3K, F]`` (``mask`` True on padding)."""
        b, t, _ = tokens.shape
        tokens = F.dropout(tokens, self.input_dropout, self.training)
        h = self.token_mlp(tokens) + self.hop_embedding.repeat(t // 3, 1)
        h = F.dropout(h, self.dropout, self.training)
        h = h + self.attention(self.pre_norm(h), mask)
        h = self.final_norm(h)
        weight = self.readout(h).squeeze(-1).masked_fill(mask, -math.inf).softmax(-1)
        return (weight.unsqueeze(-1) * h).sum(1)

    def glob(self, x: Tensor) -> Tensor:
        """``[B, global_dim]``: attention of each node to the codebook's centroids."""
        x = F.dropout(x, self.input_dropout, self.training)
        z = self.codebook(self.global_in(x))  # normalised; EMA k-means update in training
        codes = self.codebook.codes
        scores = self.q(z) @ self.k(codes).t() / math.sqrt(z.size(1))
        scores = scores + self.codebook.cluster_size.clamp(min=1e-6).log()
        return scores.softmax(-1) @ self.v(codes)

    def forward(self, tokens: Tensor, mask: Tensor, x: Tensor) -> Tensor:
        if tokens.size(-1) != self.in_channels or x.size(-1) != self.in_channels:
            raise ValueError(f"expected {self.in_channels} features per token and node, got "
                             f"{tokens.size(-1)} and {x.size(-1)}")
        h = torch.cat([self.local(tokens, mask), self.glob(x)], dim=-1)
        return self.classifier(F.dropout(self.ffn(h), self.dropout, self.training))
