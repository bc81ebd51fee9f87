"""``scatter``: reduce rows of ``src`` into ``dim_size`` groups given by an unsorted index."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from glt._checks import as_index, check_features, check_reduce, check_same_device, size_from_index
from glt.ops._csr import REDUCTIONS, csr_reduce, needs_grad, sort_index
from glt.ops.backend import get_backend, torch_scatter


def csr_transpose(rowptr: Tensor, col: Tensor, num_cols: int,
                  row: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
    """The transpose of the CSR pattern ``(rowptr [N + 1], col [E])``:
    ``(colptr [num_cols + 1], row [E], perm [E])``, the transpose's ``k``-th
    entry being the pattern's entry ``perm[k]`` (rows stay in order within a
    column). ``row`` (each entry's row, if at hand) saves recomputing it."""
    if row is None:
        row = torch.repeat_interleave(torch.arange(rowptr.numel() - 1, device=rowptr.device),
                                      rowptr.diff(), output_size=col.numel())
    colptr, perm = sort_index(col, num_cols)
    return colptr, row[perm], perm


def scatter(src: Tensor, index: Tensor, dim_size: Optional[int] = None, reduce: str = "sum",
            return_arg: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    r"""Reduce the rows of ``src`` that share an ``index`` value.

    .. math::
        \mathrm{out}_i = \mathrm{reduce}_{e \,:\, \mathrm{index}_e = i}\ \mathrm{src}_e

    Groups with no rows give 0. Differentiable in ``src``; the max/min gradient
    goes to the arg row alone (as in ``torch_scatter``).

    Args:
        src: ``[E, *]`` floating values.
        index: ``[E]`` integer group of each row, in ``[0, dim_size)``.
        dim_size: number of groups ``N`` (default ``index.max() + 1``).
        reduce: ``"sum"`` (default), ``"mean"``, ``"max"`` or ``"min"``.
        return_arg: with max/min also return ``arg [N, *]``, the row of ``src``
            that won each entry (``E`` for an empty group).

    Returns:
        ``out [N, *]`` (and ``arg`` when asked).
    """
    check_features(src, "src")
    check_reduce(reduce, REDUCTIONS, return_arg)
    if dim_size is None:
        dim_size = size_from_index(index)
    index = as_index(index, "index", length=src.size(0), bound=dim_size)
    check_same_device(src, index, "src", "index")

    if get_backend() == "torch_scatter":
        ts = torch_scatter()
        if reduce in ("max", "min"):
            fn = ts.scatter_max if reduce == "max" else ts.scatter_min
            out, arg = fn(src, index, 0, dim_size=dim_size)
            return (out, arg) if return_arg else out
        return ts.scatter(src, index, 0, dim_size=dim_size, reduce=reduce)

    if reduce in ("max", "min") and not return_arg and not needs_grad(src):
        # without arg or gradient torch's expanded-index scatter_reduce (it sorts
        # internally and reads src in order) beats a gather through the sort
        flat = src.reshape(src.size(0), src.shape[1:].numel())
        out = flat.new_zeros(dim_size, flat.size(1)).scatter_reduce_(
            0, index.unsqueeze(-1).expand_as(flat), flat, "a" + reduce, include_self=False)
        return out.reshape(dim_size, *src.shape[1:])

    num_entries = index.numel()
    ptr, perm = sort_index(index, dim_size)

    result = csr_reduce(ptr, perm, None, src, reduce, lambda: index, return_arg)
    if return_arg:
        out, arg = result
        perm_ext = torch.cat([perm, perm.new_full((1,), num_entries)])
        return out, perm_ext[arg]
    return result
