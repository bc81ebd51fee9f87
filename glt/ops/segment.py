"""``segment``: reduce consecutive runs of rows given by CSR offsets."""
from __future__ import annotations

import torch
from torch import Tensor

from glt._checks import check_features, check_reduce, check_same_device
from glt.ops._csr import REDUCTIONS, csr_reduce, rows_of
from glt.ops.backend import get_backend, torch_scatter


def check_ptr(ptr: Tensor, num_entries: int, name: str = "ptr") -> Tensor:
    """Check CSR offsets: 1-D integer, starts at 0, ends at ``num_entries``, non-decreasing."""
    if not isinstance(ptr, Tensor) or ptr.is_floating_point() or ptr.dtype == torch.bool:
        got = ptr.dtype if isinstance(ptr, Tensor) else type(ptr).__name__
        raise ValueError(f"expected {name} to be an integer tensor (torch.int64), got {got}")
    if ptr.dim() != 1 or ptr.numel() < 1:
        raise ValueError(f"expected {name} to be 1-D with at least one entry, got shape "
                         f"{tuple(ptr.shape)}")
    first, last = int(ptr[0]), int(ptr[-1])
    if first != 0 or last != num_entries:
        raise ValueError(f"expected {name} to run from 0 to {num_entries}, got {first} to {last}")
    if ptr.numel() > 1 and bool((ptr.diff() < 0).any()):
        raise ValueError(f"expected {name} to be non-decreasing")
    return ptr.long()


def segment(src: Tensor, ptr: Tensor, reduce: str = "sum", return_arg: bool = False
            ) -> Tensor | tuple[Tensor, Tensor]:
    r"""Reduce each run ``src[ptr[i]:ptr[i+1]]`` of rows to one row.

    The sorted counterpart of :func:`glt.ops.scatter` (what ``torch_scatter``
    calls ``segment_csr``): no sort needed. Empty segments give 0.

    Args:
        src: ``[E, *]`` floating values.
        ptr: ``[N + 1]`` non-decreasing offsets from 0 to ``E``.
        reduce: ``"sum"`` (default), ``"mean"``, ``"max"`` or ``"min"``.
        return_arg: with max/min also return ``arg [N, *]`` (``E`` for an empty segment).

    Returns:
        ``out [N, *]`` (and ``arg`` when asked).
    """
    check_features(src, "src")
    check_reduce(reduce, REDUCTIONS, return_arg)
    num_entries = src.size(0)
    ptr = check_ptr(ptr, num_entries)
    check_same_device(src, ptr, "src", "ptr")

    if get_backend() == "torch_scatter":
        ts = torch_scatter()
        if return_arg:
            fn = ts.segment_max_csr if reduce == "max" else ts.segment_min_csr
            return fn(src, ptr)
        return ts.segment_csr(src, ptr, reduce=reduce)

    col = torch.arange(num_entries, device=src.device)

    return csr_reduce(ptr, col, None, src, reduce, lambda: rows_of(ptr, num_entries),
                      return_arg)
