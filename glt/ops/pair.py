"""Products of gathered rows without materialising the gathered operands:
``pair_product`` (the Hadamard product of node pairs, a link predictor's input)
and ``gather_dot`` (one row against many rows of a table: UltraGCN's scores)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from glt import _prefetch
from glt._checks import as_index, check_features
from glt._jit_cache import track_helpers
from glt._prefetch import AHEAD, prefetch_row
from glt._threads import run_kernel, threads_for

# Per-chunk gradient accumulators ([chunks, N, D]) above this many bytes fall back
# to torch's index_add_ (graphs with many nodes and wide features).
_MAX_ACCUMULATOR_BYTES = 256 << 20


@njit(parallel=True, cache=True)
def _sum_chunks(acc: np.ndarray) -> np.ndarray:
    """``acc.sum(0)`` of per-chunk accumulators ``[chunks, N, D]``, parallel over rows,
    written into ``acc[0]`` (returned): no new ``[N, D]`` array to fault in."""
    out = acc[0]
    for i in prange(acc.shape[1]):
        for c in range(1, acc.shape[0]):
            for d in range(acc.shape[2]):
                out[i, d] += acc[c, i, d]
    return out


@njit(parallel=True, cache=True)
def _pair_mul(h: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    out = np.empty((src.shape[0], h.shape[1]), h.dtype)
    for m in prange(src.shape[0]):
        a, b = h[src[m]], h[dst[m]]
        row = out[m]
        for d in range(h.shape[1]):
            row[d] = a[d] * b[d]
    return out


@njit(parallel=True, cache=True)
def _pair_mul_grad(grad: np.ndarray, h: np.ndarray, src: np.ndarray, dst: np.ndarray,
                   chunks: int) -> np.ndarray:
    """``dL/dh [N, D]`` of ``out[m] = h[src[m]] * h[dst[m]]`` given ``dL/dout [M, D]``:
    each chunk of pairs accumulates into its own ``[N, D]``, then they are summed."""
    n, width, num = h.shape[0], h.shape[1], src.shape[0]
    acc = np.zeros((chunks, n, width), h.dtype)
    for c in prange(chunks):
        mine = acc[c]
        for m in range(c * num // chunks, (c + 1) * num // chunks):
            g, a, b = grad[m], h[src[m]], h[dst[m]]
            ra, rb = mine[src[m]], mine[dst[m]]
            for d in range(width):
                ra[d] += g[d] * b[d]
                rb[d] += g[d] * a[d]
    return _sum_chunks(acc)


# Dot products summed in any order, so that LLVM vectorises the reductions; NaN
# and infinity keep their meaning.
_REASSOCIATE = {"reassoc", "contract"}


@njit(parallel=True, cache=True, fastmath=_REASSOCIATE)
def _gather_dot(u: np.ndarray, table: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = np.empty(idx.shape, u.dtype)
    flat, width = table.reshape(-1), table.shape[1]
    for b in prange(idx.shape[0]):
        row = u[b]
        for m in range(idx.shape[1]):
            if m + AHEAD < idx.shape[1]:  # the random table rows: start their misses early
                prefetch_row(flat, idx[b, m + AHEAD], width)
            other = table[idx[b, m]]
            total = u.dtype.type(0)
            for d in range(width):
                total += row[d] * other[d]
            out[b, m] = total
    return out


@njit(parallel=True, cache=True)
def _gather_dot_grad_u(grad: np.ndarray, table: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``dL/du [B, d]`` of ``out[b, m] = <u[b], table[idx[b, m]]>``, one row of ``u`` per
    iteration (the same sums whatever the thread count)."""
    grad_u = np.zeros((idx.shape[0], table.shape[1]), table.dtype)
    flat, width = table.reshape(-1), table.shape[1]
    for b in prange(idx.shape[0]):
        gu = grad_u[b]
        for m in range(idx.shape[1]):
            if m + AHEAD < idx.shape[1]:
                prefetch_row(flat, idx[b, m + AHEAD], width)
            g, other = grad[b, m], table[idx[b, m]]
            for d in range(width):
                gu[d] += g * other[d]
    return grad_u


@njit(parallel=True, cache=True)
def _gather_dot_grad_table(grad: np.ndarray, u: np.ndarray, num_rows: int, idx: np.ndarray,
                           chunks: int) -> np.ndarray:
    """``dL/dtable [num_rows, d]`` of ``out[b, m] = <u[b], table[idx[b, m]]>``: each
    chunk of rows of ``u`` accumulates on its own, then the chunks are summed.
    (A loop apart from the gradient of ``u``'s: in one loop with it, neither inner
    loop is vectorised; ``benchmarks/RESULTS.md``, UltraGCN.)"""
    rows, width = idx.shape[0], u.shape[1]
    acc = np.zeros((chunks, num_rows, width), u.dtype)
    flat = acc.reshape(-1)
    for c in prange(chunks):
        mine = acc[c]
        for b in range(c * rows // chunks, (c + 1) * rows // chunks):
            row = u[b]
            for m in range(idx.shape[1]):
                if m + AHEAD < idx.shape[1]:
                    prefetch_row(flat, c * num_rows + idx[b, m + AHEAD], width)
                g, into = grad[b, m], mine[idx[b, m]]
                for d in range(width):
                    into[d] += g * row[d]
    return _sum_chunks(acc)


def _numba_ok(h: Tensor) -> bool:
    return h.device.type == "cpu" and h.dtype in (torch.float32, torch.float64)


class _PairProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        ctx.save_for_backward(h, src, dst)
        if not _numba_ok(h):
            return h[src] * h[dst]
        hn = h.detach().contiguous().numpy()
        work = src.numel() * h.size(1)
        return torch.from_numpy(run_kernel(_pair_mul, work, hn, src.numpy(), dst.numpy()))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        h, src, dst = ctx.saved_tensors
        work = src.numel() * h.size(1)
        chunks = threads_for(work)
        if not _numba_ok(h) or chunks * h.numel() * h.element_size() > _MAX_ACCUMULATOR_BYTES:
            out = torch.zeros_like(h)
            out.index_add_(0, src, grad * h[dst])
            out.index_add_(0, dst, grad * h[src])
            return out, None, None
        out = run_kernel(_pair_mul_grad, work, grad.contiguous().numpy(),
                         h.detach().contiguous().numpy(), src.numpy(), dst.numpy(), chunks)
        return torch.from_numpy(out), None, None


def pair_product(h: Tensor, pairs: Tensor) -> Tensor:
    r"""``h[pairs[:, 0]] * h[pairs[:, 1]]``, differentiable in ``h``.

    .. math::
        \mathrm{out}_m = h_{s_m} \odot h_{t_m}

    On CPU one pass writes the products (no gathered ``[M, D]`` operands) and
    the backward accumulates ``dL/dh`` per chunk of pairs, with no sort and no
    atomics; elsewhere it is the plain gather and multiply.

    Args:
        h: ``[N, D]`` node representations.
        pairs: ``[M, 2]`` int64 node ids (source, target).

    Returns:
        ``[M, D]``.
    """
    check_features(h, "h")
    if h.dim() != 2:
        raise ValueError(f"expected h to be 2-D [N, D], got shape {tuple(h.shape)}")
    if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.size(1) != 2:
        shape = tuple(pairs.shape) if isinstance(pairs, Tensor) else type(pairs).__name__
        raise ValueError(f"expected pairs to have shape [M, 2], got {shape}")
    src = as_index(pairs[:, 0].contiguous(), "pairs[:, 0]", bound=h.size(0))
    dst = as_index(pairs[:, 1].contiguous(), "pairs[:, 1]", bound=h.size(0))
    return _PairProduct.apply(h, src, dst)



class _GatherDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, u: Tensor, table: Tensor, idx: Tensor) -> Tensor:
        ctx.save_for_backward(u, table, idx)
        if not (_numba_ok(u) and u.dtype == table.dtype):
            return torch.einsum("bd,bmd->bm", u, table[idx])
        return torch.from_numpy(run_kernel(_gather_dot, idx.numel() * u.size(1),
                                           u.detach().contiguous().numpy(),
                                           table.detach().contiguous().numpy(), idx.numpy()))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        u, table, idx = ctx.saved_tensors
        grad_u = grad_table = None
        if ctx.needs_input_grad[0]:
            if _numba_ok(u) and u.dtype == table.dtype:
                grad_u = torch.from_numpy(run_kernel(
                    _gather_dot_grad_u, idx.numel() * u.size(1), grad.contiguous().numpy(),
                    table.detach().contiguous().numpy(), idx.numpy()))
            else:
                grad_u = torch.einsum("bm,bmd->bd", grad, table[idx])
        if ctx.needs_input_grad[1]:
            grad_table = gather_dot_table_grad(grad, u, table, idx)
        return grad_u, grad_table, None


def gather_dot_table_grad(grad: Tensor, u: Tensor, table: Tensor, idx: Tensor) -> Tensor:
    """``dL/dtable [I, d]`` of ``out[b, m] = <u[b], table[idx[b, m]]>`` given
    ``dL/dout [B, M]``: on CPU accumulated per chunk of rows of ``u`` (then the
    chunks summed), else, or where those accumulators would be large, ``index_add_``."""
    work = idx.numel() * u.size(1)
    chunks = threads_for(work)
    if not (_numba_ok(u) and u.dtype == table.dtype and grad.dtype == u.dtype) or \
            chunks * table.numel() * table.element_size() > _MAX_ACCUMULATOR_BYTES:
        return torch.zeros_like(table).index_add_(
            0, idx.reshape(-1), (grad.unsqueeze(-1) * u.unsqueeze(1)).reshape(-1, u.size(1)))
    return torch.from_numpy(run_kernel(_gather_dot_grad_table, work, grad.contiguous().numpy(),
                                       u.detach().contiguous().numpy(), table.size(0),
                                       idx.numpy(), chunks))


def gather_dot(u: Tensor, table: Tensor, idx: Tensor) -> Tensor:
    r"""Dot products of each row of ``u`` with rows of ``table``:
    ``out[b, m] = <u[b], table[idx[b, m]]>``, differentiable in ``u`` and ``table``.

    On CPU each product is computed from the rows in place (no gathered
    ``[B, M, d]`` tensor, no ``[B, I]`` score matrix) and the table's gradient is
    accumulated per chunk of rows; elsewhere it is ``einsum`` over the gathered rows.

    Args:
        u: ``[B, d]``.
        table: ``[I, d]``.
        idx: ``[B, M]`` int64 row ids of ``table``.

    Returns:
        ``[B, M]``.
    """
    return _GatherDot.apply(u, table, checked_rows(u, table, idx))


def checked_rows(u: Tensor, table: Tensor, idx: Tensor) -> Tensor:
    """``idx [B, M]`` checked as row ids of ``table [I, d]`` for the rows of
    ``u [B, d]`` (contiguous int64), with ``u`` and ``table`` checked as features."""
    check_features(u, "u")
    check_features(table, "table")
    if u.dim() != 2 or table.dim() != 2 or u.size(1) != table.size(1):
        raise ValueError(f"expected u [B, d] and table [I, d] of one width, got "
                         f"{tuple(u.shape)} and {tuple(table.shape)}")
    if not isinstance(idx, Tensor) or idx.dim() != 2 or idx.size(0) != u.size(0):
        shape = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
        raise ValueError(f"expected idx to have shape [{u.size(0)}, M], got {shape}")
    return as_index(idx.reshape(-1), "idx", bound=table.size(0)).view(idx.shape).contiguous()


track_helpers(__name__, _prefetch)
