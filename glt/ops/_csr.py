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

from glt._threads import run_kernel, threads_for
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


def csr_tensor(rowptr: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A torch sparse CSR matrix of ``shape`` from arrays glt built or checked itself
    (so torch's invariant check, and its warnings, are skipped)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(rowptr, col, values, shape, check_invariants=False)


def gather_rows(x: Tensor, rows: Tensor) -> Tensor:
    """Rows ``rows [R]`` of the features ``x [N, F]``: ``[R, F]``, sparse CSR when
    ``x`` is (bag-of-words features, which torch cannot index)."""
    if x.layout != torch.sparse_csr:
        return x[rows]
    rowptr, col, values, _ = select_rows(x.crow_indices(), x.col_indices(), x.values(), rows)
    return csr_tensor(rowptr, col, values, (rows.numel(), x.size(1)))


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


def select_rows(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], rows: Tensor
                ) -> tuple[Tensor, Tensor, Optional[Tensor], Tensor]:
    """Rows ``rows [R]`` of a CSR: ``(rowptr [R + 1], col [S], weight [S], pos [S])``,
    ``pos`` being each selected entry's position in the whole CSR."""
    start = rowptr[rows]
    deg = rowptr[rows + 1] - start
    _, pos = row_entries(rows, start, deg)
    sub = torch.zeros(rows.numel() + 1, dtype=rowptr.dtype, device=rowptr.device)
    sub[1:] = deg.cumsum(0)
    return sub, col[pos], None if weight is None else weight[pos], pos


def _entries(rowptr: Tensor, rows: Tensor) -> int:
    """How many entries rows ``rows`` of the CSR hold."""
    return int((rowptr[rows + 1] - rowptr[rows]).sum())


def sort_index(index: Tensor, num_groups: int) -> tuple[Tensor, Tensor]:
    """Stable sort of an int64 ``index [E]`` into CSR form.

    Returns ``ptr [num_groups + 1]`` and ``perm [E]`` with ``index[perm]`` sorted.
    Linear time (counting sort) on CPU.
    """
    if index.device.type == "cpu":
        # parallel chunks cost num_chunks * num_groups counters: keep that below E
        work = index.numel() + num_groups
        chunks = max(1, min(threads_for(work), index.numel() // max(num_groups, 1)))
        ptr, perm = run_kernel(_kernels.counting_sort, work, index.numpy(), num_groups, chunks)
        return torch.from_numpy(ptr), torch.from_numpy(perm)
    sorted_index, perm = torch.sort(index, stable=True)
    ptr = torch.searchsorted(sorted_index, torch.arange(num_groups + 1, device=index.device))
    return ptr, perm


def _product(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
             reduce: str = "sum", rows: Optional[Tensor] = None) -> Tensor:
    """``A @ x`` with ``reduce`` in sum/amax/amin (no autograd), or its rows ``rows [R]``.
    ``x: [M, F]`` -> ``[n, F]`` (``[R, F]``)."""
    if reduce == "sum" and _numba_ok(x):
        chosen = rows.contiguous() if rows is not None else rowptr[:1]
        work = col.numel() if rows is None else _entries(rowptr, rows)
        out = run_kernel(_kernels.csr_sum, work * x.size(1), rowptr.numpy(), col.numpy(),
                         *_numba_weight(weight, x), chosen.numpy(), rows is not None,
                         x.contiguous().numpy())
        return torch.from_numpy(out)
    if rows is not None:
        rowptr, col, weight, _ = select_rows(rowptr, col, weight, rows)
    n, num_cols = rowptr.numel() - 1, x.size(0)
    if _sparse_ok(x) and (reduce == "sum" or x.device.type == "cpu"):
        values = weight.to(x.dtype) if weight is not None else x.new_ones(col.numel())
        a = csr_tensor(rowptr, col, values, (n, num_cols))
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
    """``A @ x``, or its rows ``rows`` only, whose backward reads only those rows'
    entries (``A[rows]^T @ grad``, ``A[rows]`` transposed by a counting sort)."""

    @staticmethod
    def forward(ctx, rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor,
                transpose: TransposeFn, rows: Optional[Tensor] = None) -> Tensor:
        ctx.transpose = transpose
        ctx.save_for_backward(rowptr, col, weight, x, rows)
        return _product(rowptr, col, weight, x, rows=rows)

    @staticmethod
    def backward(ctx, grad: Tensor):
        rowptr, col, weight, x, rows = ctx.saved_tensors
        num_entries = col.numel()
        if rows is not None:  # the backward of A[rows] @ x, transposed here
            rowptr, col, weight, pos = select_rows(rowptr, col, weight, rows)
        grad_w = grad_x = None
        if ctx.needs_input_grad[3]:
            if rows is not None:
                colptr, perm = sort_index(col, x.size(0))
                t = Transposed(colptr, rows_of(rowptr, col.numel())[perm], perm)
            else:
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
            if rows is not None:
                grad_w = grad_w.new_zeros(num_entries).index_add_(0, pos, grad_w)
        return None, None, grad_w, grad_x, None, None


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
               transpose: TransposeFn, return_arg: bool = False, rows: Optional[Tensor] = None
               ) -> Tensor | tuple[Tensor, Tensor]:
    """Reduce ``weight[k] * x[col[k]]`` over each CSR row.

    Args:
        rowptr: ``[n + 1]`` int64 offsets; col: ``[E]`` int64 rows of ``x``.
        weight: optional ``[E]`` entry weights (differentiable).
        x: ``[M, *]`` input; trailing dimensions are reduced independently.
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.
        transpose: returns ``A^T`` (see ``TransposeFn``), called only by a backward pass.
        return_arg: for max/min also return the arg position ``k`` (``E`` for an empty row,
            positions in the CSR of the selected rows when ``rows`` is given).
        rows: optional ``[R]`` row ids: only those rows are reduced (``[R, *]`` out).

    Returns ``[n, *]`` (and the arg ``[n, *]`` int64 when asked).
    """
    trailing = x.shape[1:]
    x2 = x.reshape(x.size(0), trailing.numel())
    if reduce in ("sum", "mean"):
        out = _CSRSum.apply(rowptr, col, weight, x2, transpose, rows)
        if reduce == "mean":
            deg = rowptr.diff() if rows is None else rowptr[rows + 1] - rowptr[rows]
            out = out.div_(deg.clamp(min=1).to(out.dtype).unsqueeze(-1))  # not saved for backward
        return out.reshape(out.size(0), *trailing)
    if rows is not None:
        rowptr, col, weight, _ = select_rows(rowptr, col, weight, rows)
    is_max = reduce == "max"
    if not needs_grad(x, weight) and not return_arg and x.device.type == "cpu" and _sparse_ok(x):
        out = _product(rowptr, col, weight, x2, "amax" if is_max else "amin")
        return out.reshape(out.size(0), *trailing)
    out, arg = _CSRArgReduce.apply(rowptr, col, weight, x2, is_max)
    out = out.reshape(out.size(0), *trailing)
    return (out, arg.reshape(out.shape)) if return_arg else out
