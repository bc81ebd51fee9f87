"""``pair_product``: the Hadamard product of node pairs, the input of a link
predictor, without materialising the two gathered operands."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from glt._checks import as_index, check_features
from glt._threads import run_kernel, threads_for

# Per-chunk gradient accumulators ([chunks, N, D]) above this many bytes fall back
# to torch's index_add_ (graphs with many nodes and wide features).
_MAX_ACCUMULATOR_BYTES = 256 << 20


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
    out = np.empty((n, width), h.dtype)
    for i in prange(n):
        for d in range(width):
            total = acc[0, i, d]
            for c in range(1, chunks):
                total += acc[c, i, d]
            out[i, d] = total
    return out


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

