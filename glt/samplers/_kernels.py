"""Numba CPU kernels behind glt's samplers (NumPy in, NumPy out; no torch here).

Randomness is counter-based: every draw is a hash of ``(base, stream, j)``,
where ``stream`` names the node being sampled. Results therefore depend on the
seed alone, never on the thread count or on the order threads run in.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from glt import _prefetch, _rng
from glt._jit_cache import track_helpers
from glt._prefetch import AHEAD, prefetch
from glt._rng import randint, stream_key

_WALK_TRIES = 8  # random walks per wanted token where the 2-hop union is too big to list
_FLOYD_MAX = 64  # above this many draws, a partial Fisher-Yates shuffle beats Floyd's O(k^2)


@njit(inline="always")
def choose(key: np.uint64, d: np.int64, k: np.int64, out: np.ndarray) -> None:
    """Write ``k`` distinct positions of ``[0, d)``, uniformly chosen, into ``out[:k]``."""
    if k <= _FLOYD_MAX:  # Floyd's algorithm: k draws, membership by a short scan
        for n in range(k):
            j = d - k + n
            t = randint(key, j, j + 1)
            for m in range(n):
                if out[m] == t:
                    t = j
                    break
            out[n] = t
    else:  # partial Fisher-Yates over [0, d)
        pos = np.arange(d)
        for n in range(k):
            t = n + randint(key, n, d - n)
            pos[n], pos[t] = pos[t], pos[n]
            out[n] = pos[n]


@njit(nogil=True, cache=True)
def uniform_ints(base: np.uint64, size: np.int64, n: np.int64) -> np.ndarray:
    """``size`` independent uniform draws from ``[0, n)``: draw ``j`` is
    ``randint(stream_key(base, 0), j, n)`` (one thread: cheaper than waking the thread pool
    at the sizes drawn per step)."""
    out = np.empty(size, np.int64)
    key = stream_key(base, 0)
    for j in range(size):
        out[j] = randint(key, j, n)
    return out


@njit(nogil=True, cache=True)
def _grow(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` with room for at least ``size`` entries (doubling; contents kept)."""
    if a.shape[0] >= size:
        return a
    b = np.empty(max(size, 2 * a.shape[0]), a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(parallel=True, nogil=True, cache=True)
def sample_khop(rowptr: np.ndarray, nbr_eid: np.ndarray, seeds: np.ndarray, fanouts: np.ndarray,
                replace: bool, base: np.uint64, node_map: np.ndarray):
    """Uniform k-hop sampling with relabelling, all hops in one call.

    Row ``v`` of the CSR (``rowptr``; ``nbr_eid [E, 2]`` = neighbour, edge id)
    lists the nodes ``v`` may draw. At hop ``h`` every node added by hop
    ``h - 1`` (the seeds for ``h = 0``) draws up to ``fanouts[h]`` entries:
    all when ``fanouts[h] < 0``; without replacement, all when it has at most
    ``fanouts[h]``, else that many distinct ones; with replacement exactly
    ``fanouts[h]`` (none for a node without entries). Drawn neighbours not
    seen before get the next local ids, in order of appearance.

    Each hop is four passes: degrees, draw positions, a gather of the drawn
    (neighbour, edge id) pairs, and a sequential relabelling. The passes that
    chase random addresses prefetch ``AHEAD`` entries ahead, so cache misses
    overlap rather than queue.

    ``node_map [N]`` must be all -1; it is used as the global -> local map and
    left all -1 again. Returns ``(nodes [n], edge_index [2, e], eid [e],
    nodes_per_hop [H+1], edges_per_hop [H])`` with ``edge_index`` in local ids,
    row 0 drawn for row 1, or ``nodes_per_hop[0] = -1`` when the seeds
    repeat an id.
    """
    num_hops = fanouts.shape[0]
    num_seeds = seeds.shape[0]
    flat = nbr_eid.reshape(-1)
    nodes_per_hop = np.zeros(num_hops + 1, np.int64)
    edges_per_hop = np.zeros(num_hops, np.int64)
    nodes = np.empty(num_seeds * 4, np.int64)
    src = np.empty(num_seeds * 16, np.int64)
    dst = np.empty_like(src)
    eid = np.empty_like(src)
    for s in range(num_seeds):
        seed = seeds[s]
        if node_map[seed] >= 0:
            for r in range(s):
                node_map[seeds[r]] = -1
            nodes_per_hop[0] = -1
            return nodes[:0], np.empty((2, 0), np.int64), eid[:0], nodes_per_hop, edges_per_hop
        node_map[seed] = s
        nodes[s] = seed
    nodes_per_hop[0] = num_seeds
    num_nodes, num_edges, f_start, f_end = num_seeds, 0, 0, num_seeds
    for hop in range(num_hops):
        fanout = fanouts[hop]
        salt = hop * (rowptr.shape[0] - 1)
        m = f_end - f_start
        count = np.empty(m, np.int64)
        for i in prange(m):
            if i + AHEAD < m:
                prefetch(rowptr, nodes[f_start + i + AHEAD])
            v = nodes[f_start + i]
            d = rowptr[v + 1] - rowptr[v]
            if fanout < 0 or (not replace and d <= fanout):
                count[i] = d
            else:
                count[i] = fanout if d > 0 else 0
        offset = np.empty(m + 1, np.int64)
        offset[0] = num_edges
        for r in range(m):
            offset[r + 1] = offset[r] + count[r]
        total = offset[m] - num_edges
        src = _grow(src, num_edges + total)
        dst = _grow(dst, num_edges + total)
        eid = _grow(eid, num_edges + total)
        for i in prange(m):  # CSR positions of the draws (rowptr is cached by the count pass)
            v = nodes[f_start + i]
            start = rowptr[v]
            d = rowptr[v + 1] - start
            o = offset[i]
            k = count[i]
            for j in range(k):
                dst[o + j] = f_start + i
            if k == d and (fanout < 0 or not replace):
                for j in range(k):
                    eid[o + j] = start + j
                continue
            key = stream_key(base, salt + v)
            if replace:
                for j in range(k):
                    eid[o + j] = start + randint(key, j, d)
            else:
                choose(key, d, k, eid[o:o + k])
                for j in range(k):
                    eid[o + j] += start
        end = num_edges + total
        for q in prange(num_edges, end):  # gather (neighbour, edge id) at those positions
            if q + AHEAD < end:  # (another thread may have rewritten it: a hint only)
                prefetch(flat, 2 * eid[q + AHEAD])
            p = eid[q]
            src[q] = nbr_eid[p, 0]
            eid[q] = nbr_eid[p, 1]
        nodes = _grow(nodes, num_nodes + total)
        for q in range(num_edges, end):  # relabel, in order of appearance
            if q + AHEAD < end:
                prefetch(node_map, src[q + AHEAD])
            u = src[q]  # branch-free: the next lookups need not wait on this one
            lu = node_map[u]
            fresh = lu < 0
            lu = num_nodes if fresh else lu
            node_map[u] = lu
            nodes[num_nodes] = u
            num_nodes += fresh
            src[q] = lu
        nodes_per_hop[hop + 1] = num_nodes - f_end
        edges_per_hop[hop] = total
        num_edges += total
        f_start, f_end = f_end, num_nodes
    edge_index = np.empty((2, num_edges), np.int64)
    for q in prange(num_edges):
        edge_index[0, q] = src[q]
        edge_index[1, q] = dst[q]
    for i in prange(num_nodes):
        node_map[nodes[i]] = -1
    return nodes[:num_nodes], edge_index, eid[:num_edges], nodes_per_hop, edges_per_hop


@njit(inline="always")
def _first_visit(keys: np.ndarray, stamps: np.ndarray, bits: np.int64, stamp: np.int64,
                 u: np.int64) -> bool:
    """Add ``u`` to the set of output row ``stamp``, kept by open addressing in the
    first ``2**bits`` slots of ``keys`` / ``stamps`` (at most half full); ``True``
    if it was new. Slots stamped by other rows count as empty, so no row ever
    clears the table, and each row uses only as many slots as it needs."""
    mask = (np.int64(1) << bits) - 1
    slot = np.int64((np.uint64(u) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))
    while stamps[slot] == stamp:
        if keys[slot] == u:
            return False
        slot = (slot + 1) & mask
    stamps[slot] = stamp
    keys[slot] = u
    return True


@njit(inline="always")
def _table_bits(entries: np.int64) -> np.int64:
    """Smallest ``b >= 1`` with ``2**b`` slots at least twice ``entries + 1``
    (the node itself and its candidates)."""
    b = 1
    while (np.int64(1) << b) < 2 * (entries + 1):
        b += 1
    return b


@njit(parallel=True, nogil=True, cache=True)
def two_hop_tokens(rowptr: np.ndarray, col: np.ndarray, nodes: np.ndarray, k: int,
                   max_candidates: int, base: np.uint64, num_threads: int) -> np.ndarray:
    """``k`` tokens per node drawn from the union of its 1- and 2-hop neighbours.

    The union (the node itself left out) is collected in a per-thread hash set
    of ``O(max_candidates)`` slots, never forming ``A^2`` and never touching
    memory in proportion to the graph. With at least ``k`` candidates the tokens are
    distinct; with fewer, all candidates appear and the rest repeat uniformly
    chosen ones; a node with none gets ``-1``. When a node's 2-hop walks exceed
    ``max_candidates``, the tokens are instead the first ``k`` distinct
    endpoints of up to ``8 k`` random 1- or 2-step walks. Returns ``[len(nodes), k]``.
    """
    n_out = nodes.shape[0]
    out = np.empty((n_out, k), np.int64)
    size = _table_bits(max(max_candidates, k))
    key_buf = np.empty((num_threads, 1 << size), np.int64)
    stamp_buf = np.full((num_threads, 1 << size), -1, np.int64)  # output row owning a slot
    cand_buf = np.empty((num_threads, max(max_candidates, k)), np.int64)
    pick_buf = np.empty((num_threads, k), np.int64)
    for t in prange(num_threads):
        keys, stamps = key_buf[t], stamp_buf[t]
        cand = cand_buf[t]
        pick = pick_buf[t]
        for i in range(t * n_out // num_threads, (t + 1) * n_out // num_threads):
            v = nodes[i]
            key = stream_key(base, v)
            n = 0
            walks = rowptr[v + 1] - rowptr[v]
            for p in range(rowptr[v], rowptr[v + 1]):
                u = col[p]
                walks += rowptr[u + 1] - rowptr[u]
            bits = _table_bits(walks if walks <= max_candidates else k)
            _first_visit(keys, stamps, bits, i, v)
            if walks <= max_candidates:
                for p in range(rowptr[v], rowptr[v + 1]):
                    u = col[p]
                    if _first_visit(keys, stamps, bits, i, u):
                        cand[n] = u
                        n += 1
                    for q in range(rowptr[u], rowptr[u + 1]):
                        w = col[q]
                        if _first_visit(keys, stamps, bits, i, w):
                            cand[n] = w
                            n += 1
            else:  # too many walks to enumerate: distinct endpoints of random walks
                walk_key = stream_key(~base, v)
                d = rowptr[v + 1] - rowptr[v]
                for j in range(_WALK_TRIES * k):
                    u = col[rowptr[v] + randint(walk_key, 2 * j, d)]
                    du = rowptr[u + 1] - rowptr[u]
                    r = randint(walk_key, 2 * j + 1, du + 1)  # stop at u or step on
                    w = u if r == du else col[rowptr[u] + r]
                    if _first_visit(keys, stamps, bits, i, w):
                        cand[n] = w
                        n += 1
                        if n == k:
                            break
            if n == 0:
                out[i, :] = -1
            elif n >= k:
                choose(key, n, k, pick)
                for j in range(k):
                    out[i, j] = cand[pick[j]]
            else:
                for j in range(n):
                    out[i, j] = cand[j]
                for j in range(n, k):
                    out[i, j] = cand[randint(key, j, n)]
    return out


track_helpers(__name__, _prefetch, _rng)
