"""CSR construction straight into (memory-mapped) output arrays, for graphs
too big to sort in memory."""
from __future__ import annotations

import numpy as np
from numba import njit

from glt.datasets._cache import CacheWriter


@njit(nogil=True, cache=True)
def _degrees(src: np.ndarray, dst: np.ndarray, num_nodes: int, inverse: bool) -> np.ndarray:
    """``rowptr [N + 1]`` of the edges ``src -> dst`` (and ``dst -> src`` when
    ``inverse``); ``rowptr[0] = -1 - e`` flags edge ``e`` out of range."""
    rowptr = np.zeros(num_nodes + 1, np.int64)
    for e in range(src.shape[0]):
        u, v = src[e], dst[e]
        if u < 0 or u >= num_nodes or v < 0 or v >= num_nodes:
            rowptr[0] = -1 - e
            return rowptr
        rowptr[u + 1] += 1
        if inverse:
            rowptr[v + 1] += 1
    for i in range(num_nodes):
        rowptr[i + 1] += rowptr[i]
    return rowptr


@njit(nogil=True, cache=True)
def _fill(src: np.ndarray, dst: np.ndarray, rowptr: np.ndarray, inverse: bool,
          col: np.ndarray, eid: np.ndarray, with_eid: bool) -> None:
    cursor = rowptr[:-1].copy()
    for e in range(src.shape[0]):
        u, v = src[e], dst[e]
        p = cursor[u]
        cursor[u] += 1
        col[p] = v
        if with_eid:
            eid[p] = 2 * e if inverse else e
        if inverse:
            p = cursor[v]
            cursor[v] += 1
            col[p] = u
            if with_eid:
                eid[p] = 2 * e + 1


def write_csr(writer: CacheWriter, src: np.ndarray, dst: np.ndarray, num_nodes: int,
              inverse: bool, with_edge_id: bool, what: str) -> None:
    """Write ``rowptr``, ``col`` (and ``edge_id``) of the graph ``src -> dst``
    (``[E]`` each) to the cache, adding ``dst -> src`` after each edge when
    ``inverse`` (OGB's ``add_inverse_edge`` order: edge ``e`` becomes ``2e`` and
    its inverse ``2e + 1``). Rows keep the input order. ``what`` names the
    source in the error raised for an out-of-range node id."""
    rowptr = _degrees(src, dst, num_nodes, inverse)
    if rowptr[0] < 0:
        e = -1 - int(rowptr[0])
        raise ValueError(f"{what}: edge {e} ({int(src[e])}, {int(dst[e])}) has a node id "
                         f"outside [0, {num_nodes})")
    total = int(rowptr[-1])
    col = writer.open("col", np.int64, (total,))
    eid = writer.open("edge_id", np.int64, (total,)) if with_edge_id else np.empty(0, np.int64)
    _fill(src, dst, rowptr, inverse, col, eid, with_edge_id)
    writer.save("rowptr", rowptr)
    col.flush()
    if with_edge_id:
        eid.flush()

