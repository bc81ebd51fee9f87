"""LargeGT (Dwivedi et al., "Graph Transformers for Large Graphs", 2023,
https://arxiv.org/abs/2312.11109): local attention over sampled 2-hop tokens,
global attention to a k-means codebook."""
from __future__ import annotations

import math
import sys
from typing import Any, Optional

import torch
from torch import Tensor, nn

from glt._checks import as_index
from glt._collective import cat_across_ranks
from glt.graph import CSRGraph
from glt.layers.attention import MultiHeadAttention
from glt.layers.codebook import EMACodebook
from glt.models.gnn import float_features
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
        x: ``[N, F]`` node features (integer features used as floats,
            :func:`~glt.models.gnn.float_features`).
        num_tokens: ``K``.
        cache: a folder for the ``[N, 3, F]`` hop features: computed there in
            streamed blocks on first use, memory-mapped afterwards (see
            :func:`glt.propagate.cached_hop_features`); ``None`` keeps them in
            memory on ``x``'s device.
        pos: optional ``[N, pos_dim]`` positional encoding of the nodes (e.g.
            node2vec embeddings) for :class:`LargeGT`'s global module.
        with_nodes: a batch also gives its node ids (before ``pos``), as
            :class:`PaperLargeGT` takes them.
    """

    def __init__(self, graph: CSRGraph, x: Tensor, num_tokens: int,
                 cache: Optional[str] = None, pos: Optional[Tensor] = None,
                 with_nodes: bool = False) -> None:
        x = float_features(x)
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
        self.with_nodes = with_nodes

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def __call__(self, nodes: Tensor, seed: Optional[int] = None) -> tuple[Tensor, ...]:
        """``(tokens [B, 3K, F], padding mask [B, 3K], node features [B, F])``,
        then the node ids ``[B]`` with ``with_nodes``, then ``pos [B, pos_dim]``
        when there is a positional encoding; a node without enough neighbours
        has its missing tokens masked."""
        ids = self.sampler.sample(nodes.cpu(), seed=seed)  # [B, K]
        feats = self.hops[ids.clamp(min=0).to(self.hops.device)].to(self.x.device)  # [B, K, 3, F]
        pad = (ids < 0).to(self.x.device)
        b, k = ids.shape
        mask = pad.unsqueeze(2).expand(b, k, 3).reshape(b, 3 * k)
        nodes = nodes.to(self.x.device)
        out = (feats.reshape(b, 3 * k, -1), mask, self.x[nodes])
        out += (nodes,) if self.with_nodes else ()
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


def token_readout(h: Tensor, mask: Tensor, score: nn.Linear) -> Tensor:
    """The authors' readout of encoded tokens ``h [B, T, D]`` (``mask [B, T]`` True
    on padding): token 0 (the node's own ``X``) plus the other tokens weighted by
    a softmax of ``score([h_0, h_t])`` -> ``[B, D]``."""
    node, rest = h[:, :1], h[:, 1:]
    weight = score(torch.cat([node.expand_as(rest), rest], dim=-1)).squeeze(-1)
    weight = weight.masked_fill(mask[:, 1:], -math.inf).softmax(-1)
    return node.squeeze(1) + (weight.unsqueeze(-1) * rest).sum(1)


class _TokenModel(nn.Module):
    """What both LargeGT layouts share: the local module run in chunks of nodes
    on CPU (``chunk_bytes``, see :class:`LargeGT`) and the checks of a batch."""

    attention: MultiHeadAttention
    node_queries = False

    def __init__(self, in_channels: int, pos_dim: int, chunk_bytes: Optional[int]) -> None:
        super().__init__()
        if chunk_bytes is not None and chunk_bytes <= 0:
            raise ValueError(f"expected chunk_bytes > 0 or None, got {chunk_bytes}")
        if pos_dim < 0:
            raise ValueError(f"expected pos_dim >= 0, got {pos_dim}")
        self.in_channels, self.pos_dim, self.chunk_bytes = in_channels, pos_dim, chunk_bytes

    def _local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        raise NotImplementedError

    def local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``[B, D]`` readout of ``tokens [B, 3K, F]`` (``mask`` True on padding),
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

    def _check(self, tokens: Tensor, x: Tensor, pos: Optional[Tensor]) -> None:
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


class LargeGT(_TokenModel):
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
        super().__init__(in_channels, pos_dim, chunk_bytes)
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
        self.global_dim = global_dim
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
        return token_readout(self.final_norm(h), mask, self.readout)

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
        self._check(tokens, x, pos)
        h = torch.cat([self.local(tokens, mask), self.glob(x, pos)], dim=-1)
        return self.classifier(dropout(self.ffn(h), self.dropout, self.training))


def _mlp(in_channels: int, hidden: int, dropout: float, norm: Optional[nn.Module] = None
         ) -> nn.Sequential:
    """``Linear, [norm], ReLU, Dropout, Linear``: the authors' input encoders."""
    layers = [nn.Linear(in_channels, hidden)] + ([norm] if norm is not None else [])
    return nn.Sequential(*layers, nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden))


class PaperLargeGT(_TokenModel):
    """LargeGT in the layer layout of its authors' code (snap-research/LargeGT,
    ``model.py`` and ``local_module.py``, one layer of ``--conv_type full``), for
    reproducing their runs and for comparing with their code on models of one size.
    ``H`` is ``hidden``, ``h`` the heads, ``G`` ``global_dim``, ``P`` ``pos_dim``.

    - node features ``x [B, F]`` -> ``Linear, norm, ReLU, Dropout, Linear`` -> ``[B, H]``;
    - local: tokens ``[B, 3K, F]`` -> ``Linear, ReLU, Dropout, Linear`` -> ``Linear``;
      one layer ``W_res t + drop(MHA(LN(t)))`` whose ``h`` heads are each ``H`` wide and
      concatenated (``[B, 3K, hH]``), dropout, LayerNorm, :func:`token_readout`
      -> ``[B, hH]``; its linear layers start from ``N(0, 0.02)`` weights and zero biases;
    - global: ``q = [W_g x_enc, pos]`` ``[B, G + P]`` attends, with ``h`` heads of width
      ``H``, to the codebook's centroids of the ``q`` seen in training (EMA k-means in
      batch-normalised space, :meth:`EMACodebook.output_codes`): keys from whole
      centroids, values from their first ``G`` dimensions, the attention biased by
      ``log`` of the number of nodes whose latest assignment is the centroid (``-inf``
      for none; every node starts at a random centroid), attention dropout -> ``[B, hH]``.
      In training the batch's ``q`` then update the codebook and their nodes' assignments
      (under data parallelism every rank's batch updates both, on every rank);
    - ``[local, global]`` -> ``Linear(2hH, hH), norm, ReLU, Dropout, Linear(hH, H), norm,
      ReLU, Dropout`` -> ``Linear(H, C)``.

    ``norm``: ``"batch"`` (their default), ``"layer"`` or ``None`` (their ``--no_bn``).
    ``dropout`` is their ``--ff_dropout``, ``local_dropout`` their local module's fixed
    0.3, ``attn_dropout`` their ``--attn_dropout`` (on the global attention). Their layer
    also builds four linear maps and a projection that its forward never uses; they are
    left out. ``num_nodes`` sizes the assignments. Padded tokens (a node with too few
    neighbours) are masked in the attention and the readout; their code has none.

    ``forward(tokens [B, 3K, F], mask [B, 3K], x [B, F], nodes [B], pos [B, P])`` ->
    logits ``[B, C]`` (``pos`` only with ``pos_dim > 0``; ``nodes``: the batch's node ids).
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int, num_nodes: int,
                 heads: int = 2, global_dim: int = 64, num_codes: int = 4096,
                 dropout: float = 0.5, local_dropout: float = 0.3, attn_dropout: float = 0.0,
                 norm: Optional[str] = "batch", pos_dim: int = 0,
                 chunk_bytes: Optional[int] = 64 << 20) -> None:
        super().__init__(in_channels, pos_dim, chunk_bytes)
        norms = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
        if norm is not None and norm not in norms:
            raise ValueError(f"expected norm 'batch', 'layer' or None, got {norm!r}")

        def normed(width: int) -> list[nn.Module]:
            return [norms[norm](width)] if norm in norms else []
        wide = heads * hidden
        self.node_encoder = _mlp(in_channels, hidden, dropout, *normed(hidden))
        self.token_encoder = _mlp(in_channels, hidden, dropout)
        self.embed = nn.Linear(hidden, hidden)
        self.pre_norm = nn.LayerNorm(hidden)
        self.attention = MultiHeadAttention(hidden, heads, hidden, out_dim=wide)
        self.res_proj = nn.Linear(hidden, wide)
        self.final_norm = nn.LayerNorm(wide)
        self.readout = nn.Linear(2 * wide, 1)
        for module in (self.embed, self.attention, self.res_proj, self.readout):
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, std=0.02)
                    nn.init.zeros_(layer.bias)
        self.global_in = nn.Linear(hidden, global_dim)
        self.codebook = EMACodebook(num_codes, global_dim + pos_dim)
        self.q = nn.Linear(global_dim + pos_dim, wide)
        self.k = nn.Linear(global_dim + pos_dim, wide)
        self.v = nn.Linear(global_dim, wide)
        # int32: the narrowest integer type that gloo and NCCL both send
        self.register_buffer("assigned", torch.randint(0, num_codes, (num_nodes,),
                                                       dtype=torch.int32))
        self.ffn = nn.Sequential(nn.Linear(2 * wide, wide), *normed(wide), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(wide, hidden), *normed(hidden),
                                 nn.ReLU(), nn.Dropout(dropout))
        self.classifier = nn.Linear(hidden, num_classes)
        self.heads, self.hidden, self.global_dim = heads, hidden, global_dim
        self.local_dropout, self.attn_dropout = local_dropout, attn_dropout

    def _local(self, tokens: Tensor, mask: Tensor) -> Tensor:
        h = self.embed(self.token_encoder(tokens))
        y = dropout(self.attention(self.pre_norm(h), mask), self.local_dropout, self.training)
        h = dropout(self.res_proj(h) + y, self.local_dropout, self.training)
        return token_readout(self.final_norm(h), mask, self.readout)

    def glob(self, x: Tensor, nodes: Tensor, pos: Optional[Tensor] = None) -> Tensor:
        """``[B, hH]``: attention of the encoded nodes ``x [B, H]`` (ids ``nodes [B]``,
        positional encoding ``pos [B, P]``) to the codebook's centroids."""
        q_in = self.global_in(x)
        if self.pos_dim:
            q_in = torch.cat([q_in, pos.to(q_in.dtype)], dim=-1)
        codes = self.codebook.output_codes()
        b, c, h = q_in.size(0), codes.size(0), self.heads
        q = self.q(q_in).view(b, h, -1).transpose(0, 1)  # [h, B, H]
        k = self.k(codes).view(c, h, -1).transpose(0, 1)  # [h, C, H]
        v = self.v(codes[:, :self.global_dim]).view(c, h, -1).transpose(0, 1)
        count = torch.bincount(self.assigned.long(), minlength=c).to(q.dtype)
        scores = torch.baddbmm(count.log().expand(h, b, c), q, k.transpose(1, 2),
                               alpha=1 / math.sqrt(self.hidden))
        att = dropout(scores.softmax(-1), self.attn_dropout, self.training)
        out = torch.bmm(att, v).transpose(0, 1).reshape(b, -1)
        if self.training:
            idx = self.codebook.update(self.codebook.normalize(q_in.detach()))
            # every rank's batch (one state on all ranks under data parallelism)
            pairs = cat_across_ranks(torch.stack([nodes.to(idx.device), idx], 1))
            self.assigned[pairs[:, 0]] = pairs[:, 1].to(self.assigned.dtype)
        return out

    def forward(self, tokens: Tensor, mask: Tensor, x: Tensor, nodes: Tensor,
                pos: Optional[Tensor] = None) -> Tensor:
        self._check(tokens, x, pos)
        nodes = as_index(nodes, "nodes (the batch's node ids)", length=x.size(0),
                         bound=self.assigned.numel())
        h = torch.cat([self.local(tokens, mask),
                       self.glob(self.node_encoder(x), nodes, pos)], dim=-1)
        return self.classifier(self.ffn(h))
