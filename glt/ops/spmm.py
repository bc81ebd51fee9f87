"""``spmm``: sparse (graph) times dense, the gather-reduce of message passing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from glt._checks import check_features, check_reduce, check_same_device
from glt.ops._csr import REDUCTIONS, Transposed, csr_reduce
from glt.ops.backend import get_backend, torch_scatter

if TYPE_CHECKING:
    from glt.graph import CSRGraph


def spmm(graph: "CSRGraph", x: Tensor, reduce: str = "sum") -> Tensor:
    r"""Row-wise reduction of weighted neighbour features.

    .. math::
        \mathrm{out}_i = \mathrm{reduce}_{j \in \mathcal{N}(i)}\ w_{ij}\, x_j

    over the entries of row ``i`` of ``graph`` (``w = 1`` when unweighted).
    With ``reduce="sum"`` this is ``A @ x``. Differentiable in ``x`` and in
    ``graph.edge_weight``; the backward of sum/mean multiplies by ``A^T``, which
    the graph computes once and caches. Rows without entries give 0.

    Args:
        graph: ``CSRGraph`` of shape ``[N, M]``.
        x: ``[M, *]`` floating features.
        reduce: ``"sum"`` (default), ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        ``[N, *]``.
    """
    check_features(x, "x", rows=graph.num_cols)
    check_reduce(reduce, REDUCTIONS)
    check_same_device(graph.rowptr, x, "graph", "x")
    weight = graph.edge_weight

    if get_backend() == "torch_scatter":
        msg = x.index_select(0, graph.col)
        if weight is not None:
            msg = msg * weight.view(-1, *([1] * (x.dim() - 1)))
        return torch_scatter().segment_csr(msg, graph.rowptr, reduce=reduce)

    def transpose() -> Transposed:
        if weight is not None and not weight.requires_grad:  # A^T with its weights, cached
            t = graph.transpose()
            return Transposed(t.rowptr, t.col, None, t.edge_weight)
        colptr, row, perm = graph.csc()
        return Transposed(colptr, row, perm)

    return csr_reduce(graph.rowptr, graph.col, weight, x, reduce, transpose)
