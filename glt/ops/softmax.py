"""Softmax over groups of rows (attention normalisation over each node's edges)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from glt._checks import as_index, check_features, size_from_index
from glt._threads import run_kernel
from glt.ops import _kernels
from glt.ops._csr import _numba_ok
from glt.ops.scatter import scatter
from glt.ops.segment import check_ptr, segment


def scatter_softmax(src: Tensor, index: Tensor, dim_size: Optional[int] = None) -> Tensor:
    r"""Softmax of ``src`` within each group of rows sharing an ``index`` value.

    .. math::
        \mathrm{out}_e = \frac{\exp(s_e - m_{g(e)})}{\sum_{e' : g(e') = g(e)} \exp(s_{e'} - m_{g(e)})}

    with :math:`m` the group maximum (for stability). ``src: [E, *]``,
    ``index: [E]`` -> ``[E, *]``.
    """
    check_features(src, "src")
    if dim_size is None:
        dim_size = size_from_index(index)
    index = as_index(index, "index", length=src.size(0), bound=dim_size)
    with torch.no_grad():
        group_max = scatter(src.detach(), index, dim_size, "max")
    out = (src - group_max.index_select(0, index)).exp()
    denom = scatter(out, index, dim_size, "sum").index_select(0, index)
    return out / (denom + 1e-16)


def segment_softmax(src: Tensor, ptr: Tensor) -> Tensor:
    """Softmax of ``src`` within each run ``src[ptr[i]:ptr[i+1]]`` (sorted groups).

    ``src: [E, *]``, ``ptr: [N + 1]`` -> ``[E, *]``.
    """
    check_features(src, "src")
    ptr = check_ptr(ptr, src.size(0))
    num_entries = src.size(0)
    if _numba_ok(src):
        return _SegmentSoftmax.apply(src.reshape(num_entries, -1), ptr).view_as(src)
    group = torch.repeat_interleave(torch.arange(ptr.numel() - 1, device=src.device),
                                    ptr.diff(), output_size=num_entries)
    with torch.no_grad():
        group_max = segment(src.detach(), ptr, "max")
    out = (src - group_max.index_select(0, group)).exp()
    denom = segment(out, ptr, "sum").index_select(0, group)
    return out / (denom + 1e-16)


class _SegmentSoftmax(torch.autograd.Function):
    """:func:`segment_softmax` of ``src [E, H]`` on glt's CPU kernels: each run
    shifted by its maxima, torch's vectorised ``exp``, then the runs' sums
    divided out in place; backward ``out * (grad - sum(out * grad))`` in one
    kernel."""

    @staticmethod
    def forward(ctx, src: Tensor, ptr: Tensor) -> Tensor:
        ptr_np, work = ptr.numpy(), src.numel()
        out = torch.from_numpy(run_kernel(_kernels.segment_shift_max, work, ptr_np,
                                          src.detach().contiguous().numpy())).exp_()
        run_kernel(_kernels.segment_normalize_, work, ptr_np, out.numpy())
        ctx.save_for_backward(ptr, out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        ptr, out = ctx.saved_tensors
        grad_src = run_kernel(_kernels.segment_softmax_backward, out.numel(), ptr.numpy(),
                              out.numpy(), grad.contiguous().numpy())
        return torch.from_numpy(grad_src), None
