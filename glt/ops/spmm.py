"""``spmm``: sparse (graph) times dense, the gather-reduce of message passing."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from torch import Tensor

from glt._checks import as_index, check_features, check_reduce, check_same_device
from glt.ops._csr import REDUCTIONS, Transposed, csr_reduce, select_rows
from glt.ops.backend import get_backend, torch_scatter

if TYPE_CHECKING:
    from glt.graph import CSRGraph


def spmm(graph: "CSRGraph", x: Tensor, reduce: str = "sum", rows: Optional[Tensor] = None
         ) -> Tensor:
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
        rows: optional ``[R]`` row ids: ``spmm(graph, x, reduce)[rows]``, computed
            from those rows' entries alone, forward and backward.

    Returns:
        ``[N, *]`` (``[R, *]`` with ``rows``).
    """
    check_features(x, "x", rows=graph.num_cols)
    check_reduce(reduce, REDUCTIONS)
    check_same_device(graph.rowptr, x, "graph", "x")
    if rows is not None:
        rows = as_index(rows, "rows", bound=graph.num_nodes)
    weight = graph.edge_weight

    if get_backend() == "torch_scatter":
        rowptr, col = graph.rowptr, graph.col
        if rows is not None:
            rowptr, col, weight, _ = select_rows(rowptr, col, weight, rows)
        msg = x.index_select(0, col)
        if weight is not None:
            msg = msg * weight.view(-1, *([1] * (x.dim() - 1)))
        return torch_scatter().segment_csr(msg, rowptr, reduce=reduce)

    def transpose() -> Transposed:
        if weight is not None and not weight.requires_grad:  # A^T with its weights, cached
            t = graph.transpose()
            return Transposed(t.rowptr, t.col, None, t.edge_weight)
        colptr, row, perm = graph.csc()
        return Transposed(colptr, row, perm)

    return csr_reduce(graph.rowptr, graph.col, weight, x, reduce, transpose, rows=rows)
