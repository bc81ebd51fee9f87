"""``linear``: ``x W^T + b`` where ``x`` may be sparse CSR node features."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from glt.ops._csr import csr_tensor
from glt.ops.scatter import csr_transpose


# Transposes of the sparsity patterns seen last, keyed by their index arrays'
# addresses (each entry holds those arrays, so the addresses stay theirs).
_TRANSPOSES: "OrderedDict[tuple[int, int, int], tuple[Tensor, ...]]" = OrderedDict()
_KEEP = 4


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``F.linear(x, weight, bias)``: ``x [N, F]``, ``weight [out, F]`` -> ``[N, out]``.

    For a sparse CSR ``x`` of constant features on CPU (:func:`glt.datasets.sparse_features`,
    dropped by :func:`glt.ops.dropout`) the weight's gradient ``grad^T x`` is
    taken as ``x^T grad`` with the transpose of ``x``'s sparsity pattern
    computed once per pattern (dropout keeps it) and only the values
    permuted at each step; torch's own sparse backward transposes ``x`` (a
    sort) at every step. Other inputs go to ``F.linear``.
    """
    if weight.dim() != 2 or x.dim() < 1 or x.size(-1) != weight.size(1):
        raise ValueError(f"expected x [..., {weight.size(-1)}] for a weight of shape "
                         f"{tuple(weight.shape)} (input width {weight.size(-1)}), got x of "
                         f"shape {tuple(x.shape)}")
    if x.layout != torch.sparse_csr or x.requires_grad or x.device.type != "cpu" \
            or weight.dtype != x.dtype or weight.device != x.device:
        return F.linear(x, weight, bias)
    out = _SparseLinear.apply(x, weight)
    return out if bias is None else out + bias


def _transpose(crow: Tensor, col: Tensor, num_cols: int) -> tuple[Tensor, Tensor, Tensor]:
    """The transpose (as ``CSRGraph.csc``) of the pattern ``(crow, col)``: ``(colptr [F + 1],
    row [nnz], perm [nnz])``, the transpose's ``k``-th entry being the pattern's
    entry ``perm[k]``. Cached."""
    key = (crow.data_ptr(), col.data_ptr(), col.numel())
    if key in _TRANSPOSES:
        _TRANSPOSES.move_to_end(key)
        return _TRANSPOSES[key][2:]
    colptr, row, perm = csr_transpose(crow, col, num_cols)
    _TRANSPOSES[key] = (crow, col, colptr, row, perm)
    if len(_TRANSPOSES) > _KEEP:
        _TRANSPOSES.popitem(last=False)
    return colptr, row, perm


class _SparseLinear(torch.autograd.Function):
    """``x W^T`` for a constant sparse CSR ``x [N, F]``; gradient for ``W`` only."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        ctx.x = x
        return torch.sparse.mm(x, weight.detach().t())

    @staticmethod
    def backward(ctx, grad: Tensor):
        x = ctx.x
        colptr, row, perm = _transpose(x.crow_indices(), x.col_indices(), x.size(1))
        x_t = csr_tensor(colptr, row, x.values()[perm], (x.size(1), x.size(0)))
        return None, torch.sparse.mm(x_t, grad).t()
