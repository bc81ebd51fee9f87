"""``linear``: ``x W^T + b`` where ``x`` may be sparse CSR node features."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from glt.ops._csr import _numba_ok, _product, rows_of
from glt.ops.scatter import sort_index

# Transposes of the sparsity patterns seen last, keyed by their index arrays'
# addresses (each entry holds those arrays, so the addresses stay theirs).
_TRANSPOSES: "OrderedDict[tuple[int, int, int], tuple[Tensor, ...]]" = OrderedDict()
_KEEP = 4


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``F.linear(x, weight, bias)``: ``x [N, F]``, ``weight [out, F]`` -> ``[N, out]``.

    A sparse CSR ``x`` of constant features on CPU (:func:`glt.datasets.sparse_features`,
    dropped by :func:`glt.ops.dropout`) runs on glt's CSR kernels, forward and
    for the weight's gradient, whose product with ``x^T`` reuses the transpose
    of ``x``'s sparsity pattern (computed once per pattern; dropout keeps it).
    torch's sparse backward transposes ``x`` at every step instead. Other
    inputs go to ``F.linear``.
    """
    if x.layout != torch.sparse_csr or x.requires_grad or not _numba_ok(x) \
            or weight.dtype != x.dtype or weight.device != x.device:
        return F.linear(x, weight, bias)
    if weight.dim() != 2 or weight.size(1) != x.size(1):
        raise ValueError(f"expected weight [out, {x.size(1)}], got {tuple(weight.shape)}")
    out = _SparseLinear.apply(x.crow_indices(), x.col_indices(), x.values(), weight)
    return out if bias is None else out + bias


def _transpose(crow: Tensor, col: Tensor, num_cols: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(colptr [F + 1], row [nnz], perm [nnz])`` of the pattern's transpose: its
    ``k``-th entry is the pattern's entry ``perm[k]``. Cached."""
    key = (crow.data_ptr(), col.data_ptr(), col.numel())
    if key in _TRANSPOSES:
        _TRANSPOSES.move_to_end(key)
        return _TRANSPOSES[key][2:]
    colptr, perm = sort_index(col, num_cols)
    row = rows_of(crow, col.numel())[perm]
    _TRANSPOSES[key] = (crow, col, colptr, row, perm)
    if len(_TRANSPOSES) > _KEEP:
        _TRANSPOSES.popitem(last=False)
    return colptr, row, perm


class _SparseLinear(torch.autograd.Function):
    """``x W^T`` for ``x`` given as CSR arrays; gradient for ``W`` only."""

    @staticmethod
    def forward(ctx, crow: Tensor, col: Tensor, values: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(crow, col, values)
        ctx.num_cols = weight.size(1)
        return _product(crow, col, values, weight.detach().t().contiguous())

    @staticmethod
    def backward(ctx, grad: Tensor):
        crow, col, values = ctx.saved_tensors
        colptr, row, perm = _transpose(crow, col, ctx.num_cols)
        grad_weight = _product(colptr, row, values[perm], grad.contiguous())  # [F, out]
        return None, None, None, grad_weight.t()
