"""LargeGT (Dwivedi et al., "Graph Transformers for Large Graphs", 2023,
https://arxiv.org/abs/2312.11109): local attention over sampled 2-hop tokens,
global attention to a k-means codebook."""
from __future__ import annotations

import math
import sys
from typing import Any, Optional

import torch
from torch import Tensor, nn

from glt.graph import CSRGraph
from glt.layers.attention import MultiHeadAttention
from glt.layers.codebook import EMACodebook
from glt.ops import dropout
from glt.propagate import cached_hop_features, hop_features
from glt.samplers.tokens import TokenSampler


class TokenInputs:
    """LargeGT's inputs for batches of nodes: each node's ``K`` sampled tokens
    (itself and ``K - 1`` nodes of its 2-hop neighbourhood, see
    :class:`glt.samplers.TokenSampler`), each giving ``[X_u, \\hat A X_u,
    \\hat A^2 X_u]``: ``3K`` token features per node and a 4-hop receptive field.

    Args:
        graph: square ``CSRGraph``.
        x: ``[N, F]`` node features.
        num_tokens: ``K``.
        cache: a folder for the ``[N, 3, F]`` hop features: computed there in
            streamed blocks on first use, memory-mapped afterwards (see
            :func:`glt.propagate.cached_hop_features`); ``None`` keeps them in
            memory on ``x``'s device.
        pos: optional ``[N, pos_dim]`` positional encoding of the nodes (e.g.
            node2vec embeddings) for :class:`LargeGT`'s global module.
    """

    def __init__(self, graph: CSRGraph, x: Tensor, num_tokens: int,
                 cache: Optional[str] = None, pos: Optional[Tensor] = None) -> None:
        if pos is not None and (pos.dim() != 2 or pos.size(0) != x.size(0)
                                or not pos.is_floating_point()):
            raise ValueError(f"expected a float positional encoding of shape [{x.size(0)}, "
                             f"pos_dim], got {tuple(pos.shape)} of {pos.dtype}")
        if pos is not None and not torch.isfinite(pos).all():
            raise ValueError("the positional encoding holds NaN or infinite values")
        if cache is None:
            self.hops = torch.stack(hop_features(graph, x), dim=1)  # [N, 3, F]
        else:
            self.hops = cached_hop_features(graph, x, cache)
        self.x = x
        self.pos = None if pos is None else pos.to(x.device)
        self.sampler = TokenSampler(graph, num_tokens)

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def __call__(self, nodes: Tensor, seed: Optional[int] = None) -> tuple[Tensor, ...]:
        """``(tokens [B, 3K, F], padding mask [B, 3K], node features [B, F])``,
        then ``pos [B, pos_dim]`` when there is a positional encoding; a node
        without enough neighbours has its missing tokens masked."""
        ids = self.sampler.sample(nodes.cpu(), seed=seed)  # [B, K]
        feats = self.hops[ids.clamp(min=0).to(self.hops.device)].to(self.x.device)  # [B, K, 3, F]
        pad = (ids < 0).to(self.x.device)
        b, k = ids.shape
        mask = pad.unsqueeze(2).expand(b, k, 3).reshape(b, 3 * k)
        nodes = nodes.to(self.x.device)
        out = (feats.reshape(b, 3 * k, -1), mask, self.x[nodes])
        return out if self.pos is None else out + (self.pos[nodes],)


class HopLinear(nn.Module):
    """One linear map per hop: token ``3k + j`` (hop ``j`` of ``[X, ÂX, Â²X]``)
    goes through ``W_j``. ``[B, 3K, F]`` -> ``[B, 3K, out]``, no bias."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3, in_channels, out_channels))
        bound = 1 / math.sqrt(in_channels)  # nn.Linear's default initialisation
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, tokens: Tensor) -> Tensor:
        b, t, f = tokens.shape
        out = torch.einsum("bkjf,jfo->bkjo", tokens.view(b, t // 3, 3, f), self.weight)
        return out.reshape(b, t, -1)


class LargeGT(nn.Module):
    """Local module (token encoder, one pre-LayerNorm attention layer over the
    ``3K`` tokens, final LayerNorm, readout as in the authors' code: the node's
    own token plus the other tokens weighted by a softmax of a linear score of
    ``[h_node, h_token]``) and global module
    (queries from the node's features, keys and values from an EMA k-means
    codebook of ``num_codes`` centroids, ``log(cluster size)`` attention bias),
    concatenated, then a feed-forward block and a classifier.

    ``pos_dim``: width of an optional positional encoding of each node (the
    authors use node2vec embeddings): it is concatenated to the projected
    features before the codebook, so the centroids cluster both and the
    queries and keys see both, while the values come from the feature part of
    the centroids only.

    ``token_encoder``: ``"mlp"`` (the authors': one 2-layer MLP shared by all
    tokens) or ``"per_hop"`` (one linear map for each of ``X``, ``ÂX``,
    ``Â²X``, fewer parameters and layers, for small labelled sets).
    ``node_queries``: only the node's own three tokens query the attention, the
    other tokens being keys and values (and entering the readout as encoded);
    the attention then costs ``3 x 3K`` instead of ``3K x 3K`` per node.

    ``chunk_bytes``: on CPU the local module runs over chunks of the batch's
    nodes, each as large as keeps its biggest intermediate (at most the QKV
    projection ``[chunk, 3K, 3 * heads * hidden]`` or the attention scores)
    under this many bytes; ``None`` runs the whole batch at once (as on GPU).
    The nodes are independent there, so the result is the same (dropout draws
    aside). A chunk's buffers are small enough for the C allocator to serve
    from its heap and reuse, where the whole batch's are mapped from the
    kernel and page-faulted in at every step (the trade of speed against peak
    memory is measured in ``benchmarks/RESULTS.md``, LargeGT).

    ``forward(tokens [B, 3K, F], mask [B, 3K], x [B, F], pos [B, pos_dim])``
    -> logits ``[B, C]`` (``pos`` only with ``pos_dim > 0``).
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int, heads: int = 2,
                 global_dim: int = 64, num_codes: int = 4096, dropout: float = 0.1,
                 attn_dropout: float = 0.1, input_dropout: float = 0.0,
                 token_encoder: str = "mlp", node_queries: bool = False,
                 pos_dim: int = 0, chunk_bytes: Optional[int] = 64 << 20) -> None:
        super().__init__()
        if chunk_bytes is not None and chunk_bytes <= 0:
            raise ValueError(f"expected chunk_bytes > 0 or None, got {chunk_bytes}")
        self.chunk_bytes = chunk_bytes
        self.in_channels = in_channels
        if token_encoder == "mlp":
            self.token_encoder: nn.Module = nn.Sequential(
                nn.Linear(in_channels, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        elif token_encoder == "per_hop":
            self.token_encoder = HopLinear(in_channels, hidden)
        else:
            raise ValueError(f"expected token_encoder 'mlp' or 'per_hop', got {token_encoder!r}")
        self.node_queries = node_queries
        self.hop_embedding = nn.Parameter(torch.zeros(3, hidden))  # which of X, AX, A^2X
        self.pre_norm = nn.LayerNorm(hidden)
        self.attention = MultiHeadAttention(hidden, heads, hidden, attn_dropout)
        self.final_norm = nn.LayerNorm(hidden)
        self.readout = nn.Linear(2 * hidden, 1)  # scores [h_node, h_token] pairs
        if pos_dim < 0:
            raise ValueError(f"expected pos_dim >= 0, got {pos_dim}")
        self.global_dim, self.pos_dim = global_dim, pos_dim
        self.global_in = nn.Linear(in_channels, global_dim)
        self.codebook = EMACodebook(num_codes, global_dim + pos_dim)
        self.q = nn.Linear(global_dim + pos_dim, global_dim)
        self.k = nn.Linear(global_dim + pos_dim, global_dim)
        self.v = nn.Linear(global_dim, global_dim)
        self.ffn = nn.Sequential(nn.Linear(hidden + global_dim, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, hidden))
        self.classifier = nn.Linear(hidden, num_classes)
        self.dropout, self.input_dropout = dropout, input_dropout

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        saved = state_dict.get(prefix + "global_in.weight")
        if saved is not None and saved.size(1) != self.in_channels:
            raise ValueError(f"the saved LargeGT takes {saved.size(1)} features per node; this "
                             f"one takes {self.in_channels}: it was trained on other features")
        super()._load_from_state_dict(state_dict, prefix, *args)

    def local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``[B, hidden]`` readout of ``tokens [B, 3K, F]`` (``mask`` True on padding),
        in chunks of nodes on CPU (see ``chunk_bytes``)."""
        size = self.chunk_nodes(tokens.size(1), tokens.device, tokens.element_size())
        if size >= tokens.size(0):
            return self._local(tokens, mask)
        return torch.cat([self._local(t, m) for t, m in zip(tokens.split(size),
                                                             mask.split(size))])

    def chunk_nodes(self, num_tokens: int, device: torch.device, item_bytes: int = 4) -> int:
        """Nodes per chunk of the local module for ``num_tokens`` (``3K``) tokens per
        node: at least 1; unbounded off the CPU or with ``chunk_bytes=None``."""
        if self.chunk_bytes is None or torch.device(device).type != "cpu":
            return sys.maxsize
        att = self.attention
        queries = 3 if self.node_queries else num_tokens
        per_node = max(3 * att.heads * att.head_dim, att.heads * queries) * num_tokens
        return max(1, self.chunk_bytes // (per_node * item_bytes))

    def _local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        b, t, _ = tokens.shape
        tokens = dropout(tokens, self.input_dropout, self.training)
        h = self.token_encoder(tokens) + self.hop_embedding.repeat(t // 3, 1)
        h = dropout(h, self.dropout, self.training)
        if self.node_queries:  # the node's tokens 0-2 attend; the others stay as encoded
            att = self.attention(self.pre_norm(h), mask, num_queries=3)
            h = torch.cat([h[:, :3] + att, h[:, 3:]], dim=1)
        else:
            h = h + self.attention(self.pre_norm(h), mask)
        h = self.final_norm(h)
        node, rest = h[:, :1], h[:, 1:]  # token 0 is the node's own X
        score = self.readout(torch.cat([node.expand_as(rest), rest], dim=-1)).squeeze(-1)
        weight = score.masked_fill(mask[:, 1:], -math.inf).softmax(-1)
        return node.squeeze(1) + (weight.unsqueeze(-1) * rest).sum(1)

    def glob(self, x: Tensor, pos: Optional[Tensor] = None) -> Tensor:
        """``[B, global_dim]``: attention of each node (features ``x [B, F]``,
        positional encoding ``pos [B, pos_dim]``) to the codebook's centroids."""
        x = dropout(x, self.input_dropout, self.training)
        h = self.global_in(x)
        if self.pos_dim:
            h = torch.cat([h, pos.to(h.dtype)], dim=-1)
        z = self.codebook(h)  # normalised; EMA k-means update in training
        codes = self.codebook.codes
        scores = self.q(z) @ self.k(codes).t() / math.sqrt(self.global_dim)
        scores = scores + self.codebook.cluster_size.clamp(min=1e-6).log()
        return scores.softmax(-1) @ self.v(codes[:, :self.global_dim])

    def forward(self, tokens: Tensor, mask: Tensor, x: Tensor,
                pos: Optional[Tensor] = None) -> Tensor:
        if tokens.size(-1) != self.in_channels or x.size(-1) != self.in_channels:
            raise ValueError(f"expected {self.in_channels} features per token and node, got "
                             f"{tokens.size(-1)} and {x.size(-1)}")
        if pos is None and self.pos_dim:
            raise ValueError(f"this LargeGT takes a positional encoding of width {self.pos_dim} "
                             f"per node; got none")
        if pos is not None and not self.pos_dim:
            raise ValueError("this LargeGT takes no positional encoding (pos_dim=0); got one "
                             f"of shape {tuple(pos.shape)}")
        if pos is not None and tuple(pos.shape) != (x.size(0), self.pos_dim):
            raise ValueError(f"expected a positional encoding of shape "
                             f"[{x.size(0)}, {self.pos_dim}], got {tuple(pos.shape)}")
        h = torch.cat([self.local(tokens, mask), self.glob(x, pos)], dim=-1)
        return self.classifier(dropout(self.ffn(h), self.dropout, self.training))
