"""Numba CPU kernels behind glt's ops (NumPy in, NumPy out; no torch here)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from glt import _prefetch
from glt._jit_cache import track_helpers
from glt._prefetch import AHEAD, prefetch_row


@njit(parallel=True, cache=True)
def counting_sort(index: np.ndarray, n: int, num_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort of ``index [E]`` with values in ``[0, n)``.

    Returns ``ptr [n+1]`` (segment offsets) and ``perm [E]`` so that
    ``index[perm]`` is sorted and equal values keep their input order.
    ``num_chunks`` slices of the input are counted and placed in parallel.
    """
    num = index.shape[0]
    offset = np.zeros((num_chunks, n), np.int64)
    for c in prange(num_chunks):
        count = offset[c]
        for k in range(c * num // num_chunks, (c + 1) * num // num_chunks):
            count[index[k]] += 1
    ptr = np.empty(n + 1, np.int64)
    total = 0
    for i in range(n):
        ptr[i] = total
        for c in range(num_chunks):
            size = offset[c, i]
            offset[c, i] = total
            total += size
    ptr[n] = total
    perm = np.empty(num, np.int64)
    for c in prange(num_chunks):
        pos = offset[c]
        for k in range(c * num // num_chunks, (c + 1) * num // num_chunks):
            i = index[k]
            perm[pos[i]] = k
            pos[i] += 1
    return ptr, perm


@njit(parallel=True, cache=True)
def csr_sum(ptr: np.ndarray, idx: np.ndarray, weight: np.ndarray, has_weight: bool,
            rows: np.ndarray, has_rows: bool, x: np.ndarray) -> np.ndarray:
    """``out[i, f] = sum_k w[k] * x[idx[k], f]`` over ``k`` in ``[ptr[r], ptr[r+1])``,
    ``r = rows[i]`` when ``has_rows``, else ``r = i`` (every row).

    Weights as in :func:`csr_arg_reduce`. ``x: [M, F]`` (C-contiguous) -> ``[n, F]``
    (``[R, F]`` with ``rows [R]``). The row of ``x`` needed ``AHEAD`` entries later
    is prefetched: on graphs larger than the cache each neighbour row is otherwise
    a miss (``benchmarks/RESULTS.md``, ops).
    """
    n = rows.shape[0] if has_rows else ptr.shape[0] - 1
    num_feat = x.shape[1]
    flat = x.reshape(-1)
    last = idx.shape[0] - AHEAD
    out = np.zeros((n, num_feat), x.dtype)
    for i in prange(n):
        acc = out[i]
        r = np.int64(i)
        if has_rows:
            r = rows[i]
        for k in range(ptr[r], ptr[r + 1]):
            if k < last:
                prefetch_row(flat, idx[k + AHEAD], num_feat)
            j = idx[k]
            w = weight[k] if has_weight else weight[0]
            for f in range(num_feat):
                acc[f] += w * x[j, f]
    return out


_BLOCK = 256


@njit(parallel=True, cache=True)
def csr_arg_reduce(ptr: np.ndarray, idx: np.ndarray, weight: np.ndarray, has_weight: bool,
                   x: np.ndarray, is_max: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise max/min with arg over a CSR matrix applied to ``x``.

    ``out[i, f] = max_k w[k] * x[idx[k], f]`` for ``k`` in ``[ptr[i], ptr[i+1])``;
    ``arg[i, f]`` is the first such ``k`` reaching it (``len(idx)`` for an
    empty row, whose ``out`` is 0). Without weights pass ``weight = [1]`` in
    ``x``'s dtype and ``has_weight=False``. ``x: [M, F]``; ``out, arg: [n, F]``.
    """
    n = ptr.shape[0] - 1
    num_feat = x.shape[1]
    sentinel = idx.shape[0]
    flat = x.reshape(-1)
    last = idx.shape[0] - AHEAD
    out = np.empty((n, num_feat), x.dtype)
    arg = np.empty((n, num_feat), np.int64)
    num_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(num_blocks):
        best = np.empty(num_feat, x.dtype)
        barg = np.empty(num_feat, np.int64)
        for i in range(b * _BLOCK, min(n, (b + 1) * _BLOCK)):
            s = ptr[i]
            e = ptr[i + 1]
            if s == e:
                for f in range(num_feat):
                    out[i, f] = 0
                    arg[i, f] = sentinel
                continue
            r = idx[s]
            w = weight[s] if has_weight else weight[0]
            for f in range(num_feat):
                best[f] = w * x[r, f]
                barg[f] = s
            for k in range(s + 1, e):
                if k < last:
                    prefetch_row(flat, idx[k + AHEAD], num_feat)
                r = idx[k]
                w = weight[k] if has_weight else weight[0]
                for f in range(num_feat):
                    v = w * x[r, f]
                    take = v > best[f] if is_max else v < best[f]
                    best[f] = v if take else best[f]
                    barg[f] = k if take else barg[f]
            for f in range(num_feat):
                out[i, f] = best[f]
                arg[i, f] = barg[f]
    return out, arg


@njit(parallel=True, cache=True)
def segment_shift_max(ptr: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``src [E, H]`` (C-contiguous) less the column-wise maximum of each run
    ``[ptr[i], ptr[i+1])``: every run's maxima become 0."""
    n = ptr.shape[0] - 1
    heads = src.shape[1]
    out = np.empty_like(src)
    top = np.empty((n, heads), src.dtype)
    for i in prange(n):
        best = top[i]
        best[:] = -np.inf
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                best[h] = max(best[h], src[k, h])
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                out[k, h] = src[k, h] - best[h]
    return out


@njit(parallel=True, cache=True)
def segment_normalize_(ptr: np.ndarray, x: np.ndarray) -> None:
    """In place, ``x[k] /= (sum of x over k's run) + 1e-16`` column-wise, ``x [E, H]``."""
    n = ptr.shape[0] - 1
    heads = x.shape[1]
    total = np.zeros((n, heads), x.dtype)
    for i in prange(n):
        acc = total[i]
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                acc[h] += x[k, h]
        for h in range(heads):
            acc[h] = 1 / (acc[h] + 1e-16)
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                x[k, h] *= acc[h]


@njit(parallel=True, cache=True)
def segment_softmax_backward(ptr: np.ndarray, out: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Gradient of a softmax within each run given its output ``out [E, H]`` and
    the output's gradient ``grad [E, H]``: ``out * (grad - sum(out * grad))``."""
    n = ptr.shape[0] - 1
    heads = out.shape[1]
    grad_src = np.empty_like(out)
    dot = np.zeros((n, heads), out.dtype)
    for i in prange(n):
        acc = dot[i]
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                acc[h] += out[k, h] * grad[k, h]
        for k in range(ptr[i], ptr[i + 1]):
            for h in range(heads):
                grad_src[k, h] = out[k, h] * (grad[k, h] - acc[h])
    return grad_src


track_helpers(__name__, _prefetch)
