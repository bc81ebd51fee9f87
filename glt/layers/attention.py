"""Dense multi-head attention over token sequences (LargeGT's local module)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.ops import dropout


class MultiHeadAttention(nn.Module):
    r"""Self-attention of ``heads`` heads, each ``head_dim`` wide (LargeGT sets
    ``head_dim`` to the hidden size, so the inner width is ``heads * head_dim``).

    .. math::
        \mathrm{head}_h = \mathrm{softmax}\Big(\frac{Q_h K_h^\top}{\sqrt{d_h}}
        + M\Big) V_h, \qquad \mathrm{out} = [\mathrm{head}_1, \dots] W_O

    with :math:`M = -\infty` on padded keys; a query with no unpadded key gets
    zeros. Input ``[B, T, dim]`` -> ``[B, T, out_dim]`` (``out_dim`` defaults to
    ``dim``; the LargeGT authors' layer keeps ``heads * head_dim``).

    Training with attention dropout on CPU runs the heads one by one on
    contiguous per-head projections with glt's dropout (:func:`glt.ops.dropout`)
    instead of ``scaled_dot_product_attention``, whose CPU path with dropout
    permutes and copies ``Q``, ``K``, ``V`` and their gradients and draws its
    mask with torch's slower Bernoulli sampler. Elsewhere (evaluation, GPU, no
    dropout) ``scaled_dot_product_attention`` picks its fused kernels.
    """

    def __init__(self, dim: int, heads: int, head_dim: Optional[int] = None,
                 dropout: float = 0.0, out_dim: Optional[int] = None) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim or dim
        inner = heads * self.head_dim
        self.qkv = nn.Linear(dim, 3 * inner)
        self.out = nn.Linear(inner, out_dim or dim)
        self.dropout = dropout

    def forward(self, x: Tensor, key_padding_mask: Optional[Tensor] = None,
                num_queries: Optional[int] = None) -> Tensor:
        """``x [B, T, dim]``; ``key_padding_mask [B, T]`` True where a token is padding.

        ``num_queries``: only the first ``Q`` tokens query (all ``T`` are keys and
        values); the output is then ``[B, Q, out_dim]``.
        """
        b, t, _ = x.shape
        nq = t if num_queries is None else num_queries
        if not 0 < nq <= t:
            raise ValueError(f"expected 1 <= num_queries <= {t} tokens, got {nq}")
        if self.training and self.dropout > 0 and x.device.type == "cpu":
            return self.out(self._heads_with_dropout(x, key_padding_mask, nq))
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = q[:, :, :nq]
        keep = None if key_padding_mask is None else ~key_padding_mask.view(b, 1, 1, t)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out(out.transpose(1, 2).reshape(b, nq, -1))

    def _heads_with_dropout(self, x: Tensor, key_padding_mask: Optional[Tensor],
                            nq: int) -> Tensor:
        """``[B, Q, heads * head_dim]``: the heads' outputs side by side, each from
        its own slices of the QKV weight (no permuted copies) and glt's dropout
        on its ``[B, Q, T]`` attention weights."""
        b, t, _ = x.shape
        d = self.head_dim
        # the QKV weight's rows are Q, K, V, each head by head: [3, heads, d, dim]
        weight = self.qkv.weight.view(3, self.heads, d, -1)
        bias = self.qkv.bias.view(3, self.heads, d)
        scale = 1 / math.sqrt(d)
        shift, empty = None, None
        if key_padding_mask is not None:
            empty = key_padding_mask.all(-1, keepdim=True)  # [B, 1]: no key to attend to
            # (those rows keep finite scores, zeroed after the softmax: no NaN gradient)
            shift = torch.zeros(b, 1, t, dtype=x.dtype, device=x.device).masked_fill_(
                (key_padding_mask & ~empty).view(b, 1, t), -math.inf)
            empty = empty.view(b, 1, 1) if empty.any() else None
        queries, outs = x[:, :nq], []
        for head in range(self.heads):
            q = F.linear(queries, weight[0, head] * scale, bias[0, head] * scale)  # [B, Q, d]
            k = F.linear(x, weight[1, head], bias[1, head])  # [B, T, d]
            v = F.linear(x, weight[2, head], bias[2, head])
            scores = (torch.bmm(q, k.transpose(1, 2)) if shift is None
                      else torch.baddbmm(shift, q, k.transpose(1, 2)))  # [B, Q, T]
            att = scores.softmax(-1)
            if empty is not None:
                att = att.masked_fill(empty, 0.0)
            outs.append(torch.bmm(dropout(att, self.dropout, True), v))
        return torch.cat(outs, dim=-1)
