"""``softplus_dot_loss``: a weighted logistic loss over dot products of gathered
rows (UltraGCN's loss), its value and both gradients in one pass over the rows.

On CPU in float32 one kernel computes, for each row ``b`` of ``u``, its products
with its ``M`` table rows, the loss terms and their derivatives (``exp`` and
``log1p`` as polynomials that the compiler vectorises: numba here has no vector
math library) and the gradient of ``u[b]`` while those table rows are still in
cache; the table's gradient is then accumulated as :func:`~glt.ops.gather_dot`'s
backward does. Elsewhere it is
:func:`~glt.ops.gather_dot`, ``softplus`` and a dot product.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange
from torch import Tensor

from glt import _prefetch
from glt._jit_cache import track_helpers
from glt._prefetch import AHEAD, prefetch_row
from glt._threads import run_kernel, threads_for
from glt.ops.pair import _REASSOCIATE, _GatherDot, checked_rows, gather_dot_table_grad

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)  # ln 2 = hi + lo
_MIN_EXPONENT = np.float32(-87.0)  # exp below it is under float32's smallest normal: 0


@njit(inline="always", fastmath=_REASSOCIATE)
def _softplus_terms(s: np.ndarray, weight: np.ndarray, positives: int, g: np.ndarray,
                    bits: np.ndarray) -> float:
    """For one row of products ``s [M]`` with signs ``-1`` (the first ``positives``)
    and ``+1``: write ``g[m] = weight[m] * sign * sigmoid(sign * s[m])`` and return
    ``sum_m weight[m] * softplus(sign * s[m])`` (float64). ``bits [M]`` int32 scratch."""
    one, half = np.float32(1.0), np.float32(0.5)
    scale = bits.view(np.float32)
    for m in range(s.shape[0]):  # e = exp(-|x|) = 2^-n * p(r), range-reduced
        a = max(-abs(s[m]), _MIN_EXPONENT)
        n = np.int32(half - a * _LOG2E)  # round(-a log2 e) >= 0
        r = a + np.float32(n) * _LN2_HI + np.float32(n) * _LN2_LO
        g[m] = one + r * (one + r * (half + r * (np.float32(1 / 6) + r * (
            np.float32(1 / 24) + r * (np.float32(1 / 120) + r * (
                np.float32(1 / 720) + r * np.float32(1 / 5040)))))))
        bits[m] = (np.int32(127) - n) << 23  # the float32 2^-n
    total = 0.0
    for m in range(s.shape[0]):
        x = -s[m] if m < positives else s[m]
        e = g[m] * scale[m] if -abs(x) >= _MIN_EXPONENT else np.float32(0.0)
        q = e / (np.float32(2.0) + e)  # log1p(e) = 2 atanh(q), q <= 1/3
        q2 = q * q
        log1p = np.float32(2.0) * q * (one + q2 * (np.float32(1 / 3) + q2 * (
            np.float32(1 / 5) + q2 * (np.float32(1 / 7) + q2 * (np.float32(1 / 9) + q2 * (
                np.float32(1 / 11) + q2 * (np.float32(1 / 13) + q2 * np.float32(1 / 15))))))))
        inv = one / (one + e)
        sigmoid = inv if x >= 0 else e * inv
        nan = x - x  # NaN for NaN or infinite products (0 otherwise): kept, not clamped
        total += weight[m] * (max(x, np.float32(0.0)) + log1p + nan)
        g[m] = weight[m] * (-sigmoid if m < positives else sigmoid) + nan
    return total


@njit(parallel=True, cache=True, fastmath=_REASSOCIATE)
def _softplus_dot(u: np.ndarray, table: np.ndarray, idx: np.ndarray, weight: np.ndarray,
                  positives: int, chunks: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``(loss, grad [B, M] of the products, dL/du [B, d])``, a chunk of rows of ``u``
    per thread."""
    rows, width, cols = idx.shape[0], u.shape[1], idx.shape[1]
    grad = np.empty((rows, cols), u.dtype)
    grad_u = np.empty((rows, width), u.dtype)
    flat = table.reshape(-1)
    parts = np.zeros(chunks)
    for c in prange(chunks):
        s, bits = np.empty(cols, u.dtype), np.empty(cols, np.int32)
        for b in range(c * rows // chunks, (c + 1) * rows // chunks):
            row = u[b]
            for m in range(cols):
                if m + AHEAD < cols:  # the random table rows: start their misses early
                    prefetch_row(flat, idx[b, m + AHEAD], width)
                other = table[idx[b, m]]
                total = u.dtype.type(0)
                for d in range(width):
                    total += row[d] * other[d]
                s[m] = total
            g = grad[b]
            parts[c] += _softplus_terms(s, weight[b], positives, g, bits)
            gu = grad_u[b]
            gu[:] = 0
            for m in range(cols):  # the same rows again, now in cache
                gm, other = g[m], table[idx[b, m]]
                for d in range(width):
                    gu[d] += gm * other[d]
    return parts.sum(), grad, grad_u


class _SoftplusDot(torch.autograd.Function):
    """The loss, with both gradients computed in the forward (one pass over the
    rows) and scaled by the incoming gradient in the backward."""

    @staticmethod
    def forward(ctx: Any, u: Tensor, table: Tensor, idx: Tensor, weight: Tensor,
                positives: int) -> Tensor:
        work = idx.numel() * u.size(1)
        loss, grad, grad_u = run_kernel(
            _softplus_dot, work, u.detach().contiguous().numpy(),
            table.detach().contiguous().numpy(), idx.numpy(),
            weight.detach().contiguous().numpy(), positives, threads_for(work))
        grad_table = None
        if ctx.needs_input_grad[1]:
            grad_table = gather_dot_table_grad(torch.from_numpy(grad), u, table, idx)
        ctx.save_for_backward(torch.from_numpy(grad_u), grad_table)
        return u.new_tensor(loss)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Any, ...]:
        grad_u, grad_table = ctx.saved_tensors
        if grad.item() != 1.0:
            grad_u = grad_u * grad
            grad_table = None if grad_table is None else grad_table * grad
        return grad_u, grad_table, None, None, None


def softplus_dot_loss(u: Tensor, table: Tensor, idx: Tensor, weight: Tensor,
                      positives: int) -> Tensor:
    r"""Weighted logistic loss of the products ``<u[b], table[idx[b, m]]>``:

    .. math::
        L = \sum_{b, m} w_{bm} \operatorname{softplus}(\sigma_m \langle u_b,
        t_{i_{bm}} \rangle), \quad \sigma_m = -1 \text{ for } m < P, \; +1 \text{ after}

    (binary cross-entropy with logits: label 1 for the first ``P = positives``
    columns, 0 for the rest), differentiable in ``u`` and ``table`` (and in ``weight``
    through the unfused formula, when it requires a gradient).

    Args:
        u: ``[B, d]``.
        table: ``[I, d]``.
        idx: ``[B, M]`` int64 row ids of ``table``.
        weight: ``[B, M]``.
        positives: ``P``, ``0 <= P <= M``.

    Returns:
        a 0-dim tensor.
    """
    idx = checked_rows(u, table, idx)
    if not isinstance(weight, Tensor) or weight.shape != idx.shape:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"expected weight of the shape of idx, {tuple(idx.shape)}, got {shape}")
    if not 0 <= positives <= idx.size(1):
        raise ValueError(f"expected 0 <= positives <= {idx.size(1)} (columns), got {positives}")
    return checked_softplus_dot_loss(u, table, idx, weight, positives)


def checked_softplus_dot_loss(u: Tensor, table: Tensor, idx: Tensor, weight: Tensor,
                              positives: int) -> Tensor:
    """:func:`softplus_dot_loss` of inputs its caller has checked (``idx`` contiguous
    int64 row ids of ``table``, ``weight`` of its shape): no second pass over ``idx``."""
    fused = all(t.device.type == "cpu" and t.dtype == torch.float32 for t in (u, table, weight)) \
        and not (weight.requires_grad and torch.is_grad_enabled())
    if not fused:
        return weighted_softplus(_GatherDot.apply(u, table, idx), weight, positives)
    return _SoftplusDot.apply(u, table, idx, weight, positives)


def weighted_softplus(scores: Tensor, weight: Tensor, positives: int) -> Tensor:
    """:func:`softplus_dot_loss` of given products ``scores [B, M]`` (any device)."""
    sign = scores.new_ones(scores.size(1))
    sign[:positives] = -1
    return torch.dot(weight.reshape(-1), F.softplus(scores * sign).reshape(-1))


track_helpers(__name__, _prefetch)
