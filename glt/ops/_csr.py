"""The one reduction engine behind ``scatter``, ``segment`` and ``spmm``.

Every op is a row-wise reduction over a CSR matrix ``A`` applied to ``x``::

    out[i] = reduce_{k in [rowptr[i], rowptr[i+1])} weight[k] * x[col[k]]

``scatter`` uses ``A`` = (offsets of the sorted index, sort permutation),
``segment`` uses ``A`` = (ptr, arange(E)) and ``spmm`` the graph itself.
Backward of sum/mean is the product with ``A^T``, which each caller supplies
cheaply (a gather for scatter/segment, the graph's cached transpose for spmm);
backward of max/min routes the gradient to the arg entries.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import torch
from torch import Tensor

from glt._threads import run_kernel
from glt.ops import _kernels


class Transposed(NamedTuple):
    """CSR arrays of ``A^T``: ``perm[k]`` is the position in ``A`` of ``A^T``'s entry ``k``;
    ``weight``, when given, is ``A``'s weights already in that order (constant weights,
    permuted once and kept)."""

    rowptr: Tensor
    col: Tensor
    perm: Optional[Tensor]
    weight: Optional[Tensor] = None


TransposeFn = Callable[[], Union[Transposed, Tensor]]
"""Returns ``A^T`` for the backward pass, or a ``[M]`` index when ``A`` has
exactly one unit entry per column, so that ``A^T @ g = g[index]`` (a gather)."""

REDUCTIONS = ("sum", "mean", "max", "min")


def rows_of(rowptr: Tensor, num_entries: int) -> Tensor:
    """COO row index ``[E]`` of each CSR entry."""
    n = rowptr.numel() - 1
    return torch.repeat_interleave(torch.arange(n, device=rowptr.device), rowptr.diff(),
                                   output_size=num_entries)


def row_entries(owner: Tensor, start: Tensor, deg: Tensor) -> tuple[Tensor, Tensor]:
    """Every entry of some CSR rows, grouped by row: ``(owner [S], position [S])``,
    each row's ``owner`` repeated ``deg`` times beside its entries' positions
    ``start .. start + deg - 1``. ``owner, start, deg: [R]``."""
    rep = torch.repeat_interleave(owner, deg)
    first = torch.repeat_interleave(deg.cumsum(0) - deg, deg)
    offset = torch.arange(rep.numel(), device=owner.device) - first
    return rep, torch.repeat_interleave(start, deg) + offset


# Switches between glt's fast kernels and the portable gather/scatter path
# (the one used for other dtypes); tests flip them to cover both on CPU.
USE_SPARSE_KERNELS = True
USE_NUMBA = True


def _sparse_ok(x: Tensor) -> bool:
    return (USE_SPARSE_KERNELS and x.dtype in (torch.float32, torch.float64)
            and x.device.type in ("cpu", "cuda"))


def _numba_ok(x: Tensor) -> bool:
    return USE_NUMBA and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)


def _numba_weight(weight: Optional[Tensor], x: Tensor) -> tuple[np.ndarray, bool]:
    """``(weights in x's dtype, has_weight)`` as the Numba kernels take them."""
    if weight is None:
        return np.ones(1, dtype=np.float32 if x.dtype == torch.float32 else np.float64), False
    return weight.detach().to(x.dtype).contiguous().numpy(), True


def _product(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
             reduce: str = "sum") -> Tensor:
    """``A @ x`` with ``reduce`` in sum/amax/amin (no autograd). ``x: [M, F]`` -> ``[n, F]``."""
    n, num_cols = rowptr.numel() - 1, x.size(0)
    if reduce == "sum" and _numba_ok(x):
        out = run_kernel(_kernels.csr_sum, col.numel() * x.size(1), rowptr.numpy(),
                         col.numpy(), *_numba_weight(weight, x), x.contiguous().numpy())
        return torch.from_numpy(out)
    if _sparse_ok(x) and (reduce == "sum" or x.device.type == "cpu"):
        values = weight.to(x.dtype) if weight is not None else x.new_ones(col.numel())
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            a = torch.sparse_csr_tensor(rowptr, col, values, (n, num_cols),
                                        check_invariants=False)
        out = torch.sparse.mm(a, x) if reduce == "sum" else torch.sparse.mm(a, x, reduce)
        return out.to_dense() if out.layout != torch.strided else out
    msg = x.index_select(0, col)
    if weight is not None:
        msg = msg * weight.to(x.dtype).unsqueeze(-1)
    row = rows_of(rowptr, col.numel()).unsqueeze(-1).expand_as(msg)
    if reduce == "sum":
        return x.new_zeros(n, x.size(1)).scatter_add_(0, row, msg)
    return x.new_zeros(n, x.size(1)).scatter_reduce_(0, row, msg, reduce, include_self=False)


def _arg_reduce(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
                is_max: bool) -> tuple[Tensor, Tensor]:
    """Row-wise max/min with the first arg position ``k`` (``E`` for empty rows)."""
    num_entries = col.numel()
    if _numba_ok(x):
        out, arg = run_kernel(_kernels.csr_arg_reduce, num_entries * x.size(1), rowptr.numpy(),
                              col.numpy(), *_numba_weight(weight, x),
                              x.detach().contiguous().numpy(), is_max)
        return torch.from_numpy(out), torch.from_numpy(arg)
    n = rowptr.numel() - 1
    msg = x.index_select(0, col)
    if weight is not None:
        msg = msg * weight.to(x.dtype).unsqueeze(-1)
    row = rows_of(rowptr, num_entries).unsqueeze(-1).expand_as(msg)
    out = x.new_zeros(n, x.size(1)).scatter_reduce_(0, row, msg, "amax" if is_max else "amin",
                                                   include_self=False)
    pos = torch.arange(num_entries, device=x.device).unsqueeze(-1).expand_as(msg)
    cand = torch.where(msg == out.gather(0, row), pos, num_entries)
    arg = torch.full_like(out, num_entries, dtype=torch.long)
    return out, arg.scatter_reduce_(0, row, cand, "amin")


class _CSRSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
                transpose: TransposeFn) -> Tensor:
        ctx.transpose = transpose
        ctx.save_for_backward(rowptr, col, weight, x)
        return _product(rowptr, col, weight, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        rowptr, col, weight, x = ctx.saved_tensors
        grad_w = grad_x = None
        if ctx.needs_input_grad[3]:
            t = ctx.transpose()
            if isinstance(t, Tensor):
                grad_x = grad.index_select(0, t)
            else:
                w_t = (t.weight if t.weight is not None or weight is None
                       else weight.index_select(0, t.perm))
                grad_x = _product(t.rowptr, t.col, w_t, grad.contiguous())
        if weight is not None and ctx.needs_input_grad[2]:
            row = rows_of(rowptr, col.numel())
            grad_w = (grad.index_select(0, row) * x.index_select(0, col)).sum(-1)
        return None, None, grad_w, grad_x, None


class _CSRArgReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
                is_max: bool) -> tuple[Tensor, Tensor]:
        out, arg = _arg_reduce(rowptr, col, weight, x, is_max)
        ctx.save_for_backward(col, weight, x, arg)
        ctx.mark_non_differentiable(arg)
        return out, arg

    @staticmethod
    def backward(ctx, grad: Tensor, _grad_arg: Tensor):
        col, weight, x, arg = ctx.saved_tensors
        num_x = x.size(0)
        col_ext = torch.cat([col, col.new_full((1,), num_x)])
        target = col_ext[arg]  # [n, F] row of x that won, num_x when none did
        grad_x = grad_w = None
        if ctx.needs_input_grad[3]:
            g = grad if weight is None else grad * torch.cat([weight, weight.new_zeros(1)])[arg]
            grad_x = grad.new_zeros(num_x + 1, x.size(1)).scatter_add_(0, target, g)[:num_x]
        if weight is not None and ctx.needs_input_grad[2]:
            x_ext = torch.cat([x, x.new_zeros(1, x.size(1))])
            contrib = (grad * x_ext.gather(0, target)).reshape(-1)
            grad_w = weight.new_zeros(col.numel() + 1).index_add_(0, arg.reshape(-1), contrib)
            grad_w = grad_w[:-1]
        return None, None, grad_w, grad_x, None


def needs_grad(*tensors: Optional[Tensor]) -> bool:
    """Whether autograd will ask for a gradient of any of ``tensors``."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def csr_reduce(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor, reduce: str,
               transpose: TransposeFn, return_arg: bool = False
               ) -> Tensor | tuple[Tensor, Tensor]:
    """Reduce ``weight[k] * x[col[k]]`` over each CSR row.

    Args:
        rowptr: ``[n + 1]`` int64 offsets; col: ``[E]`` int64 rows of ``x``.
        weight: optional ``[E]`` entry weights (differentiable).
        x: ``[M, *]`` input; trailing dimensions are reduced independently.
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.
        transpose: returns ``A^T`` (see ``TransposeFn``), called only by a backward pass.
        return_arg: for max/min also return the arg position ``k`` (``E`` for an empty row).

    Returns ``[n, *]`` (and the arg ``[n, *]`` int64 when asked).
    """
    trailing = x.shape[1:]
    x2 = x.reshape(x.size(0), trailing.numel())
    if reduce in ("sum", "mean"):
        out = _CSRSum.apply(rowptr, col, weight, x2, transpose)
        if reduce == "mean":
            count = rowptr.diff().clamp(min=1).to(out.dtype).unsqueeze(-1)
            out = out.div_(count)  # in place: the product is not saved for backward
        return out.reshape(out.size(0), *trailing)
    is_max = reduce == "max"
    if not needs_grad(x, weight) and not return_arg and x.device.type == "cpu" and _sparse_ok(x):
        out = _product(rowptr, col, weight, x2, "amax" if is_max else "amin")
        return out.reshape(out.size(0), *trailing)
    out, arg = _CSRArgReduce.apply(rowptr, col, weight, x2, is_max)
    out = out.reshape(out.size(0), *trailing)
    return (out, arg.reshape(out.shape)) if return_arg else out
