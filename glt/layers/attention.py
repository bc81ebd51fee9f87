"""Dense multi-head attention over token sequences (LargeGT's local module)."""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    r"""Self-attention of ``heads`` heads, each ``head_dim`` wide (LargeGT sets
    ``head_dim`` to the hidden size, so the inner width is ``heads * head_dim``).

    .. math::
        \mathrm{head}_h = \mathrm{softmax}\Big(\frac{Q_h K_h^\top}{\sqrt{d_h}}
        + M\Big) V_h, \qquad \mathrm{out} = [\mathrm{head}_1, \dots] W_O

    with :math:`M = -\infty` on padded keys. Input ``[B, T, dim]`` -> ``[B, T, dim]``.
    """

    def __init__(self, dim: int, heads: int, head_dim: Optional[int] = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim or dim
        inner = heads * self.head_dim
        self.qkv = nn.Linear(dim, 3 * inner)
        self.out = nn.Linear(inner, dim)
        self.dropout = dropout

    def forward(self, x: Tensor, key_padding_mask: Optional[Tensor] = None,
                num_queries: Optional[int] = None) -> Tensor:
        """``x [B, T, dim]``; ``key_padding_mask [B, T]`` True where a token is padding.

        ``num_queries``: only the first ``Q`` tokens query (all ``T`` are keys and
        values); the output is then ``[B, Q, dim]``.
        """
        b, t, _ = x.shape
        nq = t if num_queries is None else num_queries
        if not 0 < nq <= t:
            raise ValueError(f"expected 1 <= num_queries <= {t} tokens, got {nq}")
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = q[:, :, :nq]
        keep = None if key_padding_mask is None else ~key_padding_mask.view(b, 1, 1, t)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out(out.transpose(1, 2).reshape(b, nq, -1))
