"""CSR construction straight into (memory-mapped) output arrays, for graphs
too big to sort in memory."""
from __future__ import annotations

import os
from typing import Optional

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


@njit(nogil=True, cache=True)
def _csr_problem(rowptr: np.ndarray, col: np.ndarray, num_cols: int) -> tuple[int, int]:
    """``(kind, position)`` of the first broken CSR invariant, ``(0, 0)`` if none:
    1 ``rowptr[0] != 0``, 2 ``rowptr`` decreases, 3 ``rowptr[-1] != E``, 4 a
    column outside ``[0, num_cols)``."""
    if rowptr.shape[0] == 0 or rowptr[0] != 0:
        return 1, 0
    for i in range(rowptr.shape[0] - 1):
        if rowptr[i + 1] < rowptr[i]:
            return 2, i
    if rowptr[rowptr.shape[0] - 1] != col.shape[0]:
        return 3, 0
    for k in range(col.shape[0]):
        if col[k] < 0 or col[k] >= num_cols:
            return 4, k
    return 0, 0


@njit(nogil=True, cache=True)
def _first_outside(ids: np.ndarray, bound: int) -> int:
    for k in range(ids.shape[0]):
        if ids[k] < 0 or ids[k] >= bound:
            return k
    return -1


def check_csr(rowptr: np.ndarray, col: np.ndarray, num_cols: int) -> None:
    """Raise ``ValueError`` unless ``rowptr [N + 1]`` / ``col [E]`` form a valid
    CSR matrix with ``num_cols`` columns (one pass over both)."""
    if rowptr.dtype != np.int64 or col.dtype != np.int64 or rowptr.ndim != 1 or col.ndim != 1:
        raise ValueError(f"rowptr and col must be 1-D int64, got {rowptr.dtype} "
                         f"{rowptr.shape} and {col.dtype} {col.shape}")
    kind, at = _csr_problem(rowptr, col, num_cols)
    if kind:
        raise ValueError(("rowptr does not start at 0", f"rowptr decreases at row {at}",
                          f"rowptr ends at {int(rowptr[-1])}, not at E = {col.shape[0]}",
                          f"col[{at}] = {int(col[at]) if kind == 4 else 0} is outside "
                          f"[0, {num_cols})")[kind - 1])


def graph_count(values: np.ndarray, what: str) -> int:
    """The one value of a single graph's node or edge count ``values`` (OGB's
    ``num-node-list``, LINKX's ``num_nodes``), checked as a non-negative integer; a
    whole float passes, as ``ogb`` and LINKX read counts with ``int``."""
    values = values.reshape(-1)
    if values.size != 1:
        raise ValueError(f"{what}: expected the count of one graph, got {values.size} values")
    value = values[0]
    if values.dtype.kind not in "iuf" or not (value >= 0 and value == np.floor(value)):
        raise ValueError(f"{what}: expected a non-negative integer count, got {value}")
    return int(value)


def check_ids(ids: np.ndarray, bound: int, what: str) -> None:
    """Raise ``ValueError`` unless every integer in ``ids`` is in ``[0, bound)``."""
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected integer ids, got {ids.dtype}")
    flat = ids.reshape(-1)
    at = _first_outside(flat, bound)
    if at >= 0:
        raise ValueError(f"{what}: id {int(flat[at])} is outside [0, {bound})")


def _physical_memory() -> Optional[int]:
    """This machine's memory in bytes, ``None`` where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None


def write_csr(writer: CacheWriter, src: np.ndarray, dst: np.ndarray, num_nodes: int,
              inverse: bool, with_edge_id: bool, what: str) -> None:
    """Write ``rowptr``, ``col`` (and ``edge_id``) of the graph ``src -> dst``
    (``[E]`` each) to the cache, adding ``dst -> src`` after each edge when
    ``inverse`` (OGB's ``add_inverse_edge`` order: edge ``e`` becomes ``2e`` and
    its inverse ``2e + 1``). Rows keep the input order. ``what`` names the
    source in the error raised for an out-of-range node id."""
    need, memory = 8 * (num_nodes + 1), _physical_memory()
    if memory is not None and need > memory:
        raise ValueError(f"{what}: its {num_nodes} nodes need a row pointer of "
                         f"{need / 2**30:.1f} GiB, more than this machine's "
                         f"{memory / 2**30:.1f} GiB of memory; is the node count right?")
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

