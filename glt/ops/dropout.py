"""Dropout with a parallel counter-based mask on CPU.

Same semantics as ``torch.nn.functional.dropout`` (zero each entry with
probability ``p``, scale the rest by ``1 / (1 - p)``), but the mask of a
contiguous CPU float tensor comes from a hash of (seed, position) computed in
parallel, several times faster than torch's CPU Bernoulli sampler. The seed is
drawn from torch's global generator, so ``torch.manual_seed`` makes it repeatable.
Other tensors (CUDA, non-contiguous, other dtypes) use torch's dropout.

A sparse CSR matrix (bag-of-words node features, say) is dropped entry by
entry over its stored values only, each with the keep bit the dense matrix
would get at that position: the same seed gives the dense result's mask, at a
cost in proportion to the nonzeros.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange
from torch import Tensor

from glt import _rng
from glt._jit_cache import track_helpers
from glt._rng import _mix, stream_key
from glt._threads import run_kernel
from glt.ops._csr import csr_tensor

_BLOCK = 4  # entries per 64-bit hash: 16 random bits each


@njit(parallel=True, nogil=True, cache=True)
def _dropout_mask(x: np.ndarray, out: np.ndarray, keep: np.ndarray, threshold: np.uint64,
                  scale: float, base: np.uint64) -> None:
    """``keep[i] = bits_i >= threshold`` (16-bit uniforms), ``out = x * keep * scale``.

    Branch-free, and indexed by unsigned integers (Numba then emits no
    negative-index wraparound), which lets LLVM vectorise the loop; a branch per
    entry, taken with probability ``p``, would dominate the cost."""
    n = x.shape[0]
    key = stream_key(base, 0)
    for b in prange(n // _BLOCK):
        _mask_block(x, out, keep, threshold, scale, key, np.uint64(b), _BLOCK)
    if n % _BLOCK:
        _mask_block(x, out, keep, threshold, scale, key, np.uint64(n // _BLOCK), n % _BLOCK)


@njit(inline="always")
def _bit(bits: np.uint64, j: np.uint64, t: np.int64) -> np.int64:
    """Keep bit (0 or 1, branch-free) of 16-bit lane ``j`` of ``bits``: lane >= ``t``."""
    v = np.int64((bits >> (np.uint64(16) * j)) & np.uint64(0xFFFF))
    return np.int64(1) + ((v - t) >> np.int64(63))


@njit(inline="always")
def _mask_block(x: np.ndarray, out: np.ndarray, keep: np.ndarray, threshold: np.uint64,
                scale: float, key: np.uint64, b: np.uint64, size: np.int64) -> None:
    """Entries ``b * _BLOCK + [0, size)`` of :func:`_dropout_mask`."""
    bits = _mix(key + b * np.uint64(0xD1B54A32D192ED03))
    t = np.int64(threshold)
    for j in range(size):
        i = b * np.uint64(_BLOCK) + np.uint64(j)
        k = _bit(bits, np.uint64(j), t)
        keep[i] = k
        out[i] = x[i] * (scale * k)


@njit(inline="always")
def _keep(key: np.uint64, pos: np.uint64, t: np.int64) -> np.int64:
    """The keep bit of flat position ``pos``, as :func:`_dropout_mask` draws it."""
    b = pos // np.uint64(_BLOCK)
    return _bit(_mix(key + b * np.uint64(0xD1B54A32D192ED03)), pos % np.uint64(_BLOCK), t)


@njit(parallel=True, nogil=True, cache=True)
def _dropout_csr(crow: np.ndarray, col: np.ndarray, values: np.ndarray, out: np.ndarray,
                 num_cols: np.int64, threshold: np.uint64, scale: float,
                 base: np.uint64) -> None:
    """``out[k] = values[k] * keep * scale`` for stored entry ``k`` (row ``i``,
    column ``col[k]``), with the keep bit of dense position ``i * num_cols + col[k]``."""
    key = stream_key(base, 0)
    t = np.int64(threshold)
    for i in prange(crow.shape[0] - 1):
        for k in range(crow[i], crow[i + 1]):
            pos = np.uint64(i) * np.uint64(num_cols) + np.uint64(col[k])
            out[k] = values[k] * (scale * _keep(key, pos, t))


track_helpers(__name__, _rng)


def _sparse_dropout(x: Tensor, p: float) -> Tensor:
    """Dropout of the stored values of a sparse CSR matrix ``x [N, F]`` (constant input)."""
    if x.requires_grad:
        raise ValueError("dropout on a sparse CSR tensor treats it as constant input features; "
                         "got one that requires grad (pass a dense tensor instead)")
    values = x.values()
    if p == 1.0:
        out = torch.zeros_like(values)
    elif x.device.type != "cpu" or values.dtype not in (torch.float32, torch.float64):
        out = F.dropout(values, p, True)
    else:
        out = torch.empty_like(values)
        base = int(torch.randint(0, 2**62, (1,)))
        run_kernel(_dropout_csr, values.numel(), x.crow_indices().numpy(),
                   x.col_indices().numpy(), values.contiguous().numpy(), out.numpy(),
                   x.size(1), np.uint64(round(p * 65536)), 1.0 / (1.0 - p), np.uint64(base))
    return csr_tensor(x.crow_indices(), x.col_indices(), out, x.shape)  # x's own structure


class _Dropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:  # type: ignore[override]
        out = torch.empty_like(x)
        keep = torch.empty(x.shape, dtype=torch.bool)
        base = int(torch.randint(0, 2**62, (1,)))
        scale = 1.0 / (1.0 - p)
        run_kernel(_dropout_mask, x.numel(), x.detach().reshape(-1).numpy(),
                   out.view(-1).numpy(), keep.view(-1).numpy(), np.uint64(round(p * 65536)),
                   scale, np.uint64(base))
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad * keep * ctx.scale, None


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """``torch.nn.functional.dropout`` with a fast CPU mask (``p`` rounded to a
    multiple of 1/65536 there). ``x`` may also be a sparse CSR matrix ``[N, F]``
    of input features: its stored values are dropped with the dense mask."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"expected dropout probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if x.layout == torch.sparse_csr:
        return _sparse_dropout(x, p)
    if p == 1.0 or x.device.type != "cpu" or not x.is_contiguous() or \
            x.dtype not in (torch.float32, torch.float64) or x.numel() < 4096:
        return F.dropout(x, p, training)
    return _Dropout.apply(x, p)
