r"""Multi-hop propagated features ``[X, \hat A X, ..., \hat A^k X]`` with
:math:`\hat A = D^{-1/2} (A + I) D^{-1/2}` (SGC / SIGN-style precomputation,
LargeGT's token features): in memory, or streamed block of rows by block of
rows into a memory-mapped cache, for graphs whose features fit in RAM once at
most (ogbn-papers100M)."""
from __future__ import annotations

import hashlib
import mmap
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from glt._checks import check_features
from glt.datasets._cache import CacheWriter, load_cache
from glt.graph import CSRGraph
from glt.norm import gcn_norm
from glt.ops import spmm


def hop_features(graph: CSRGraph, x: Tensor, hops: int = 2) -> list[Tensor]:
    r"""``[X, \hat A X, ..., \hat A^{hops} X]``, each ``[N, F]``, through glt's SpMM."""
    check_features(x, "x", rows=graph.num_nodes)
    adj = gcn_norm(graph)
    out = [x]
    with torch.no_grad():
        for _ in range(hops):
            out.append(spmm(adj, out[-1]))
    return out


def _digest(*tensors: Optional[Tensor], samples: int = 1 << 20) -> str:
    """A fingerprint of the tensors' shapes and of up to ``samples`` evenly spaced
    entries of each (cheap on billions of entries, and changes with the data)."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        flat = t.reshape(-1)
        step = max(1, flat.numel() // samples)
        h.update(repr((tuple(t.shape), str(t.dtype))).encode())
        h.update(flat[::step].contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def _release(out: np.memmap) -> None:
    """Write the mapped file's dirty pages back and drop them from this process's
    resident set (they stay in the file and the page cache): the resident set
    then holds one block at a time, not the whole file."""
    out.flush()
    mapping = getattr(out, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def cached_hop_features(graph: CSRGraph, x: Tensor, directory: str, hops: int = 2,
                        chunk_rows: int = 1 << 16) -> Tensor:
    r"""``[N, hops + 1, F]`` hop features (as :func:`hop_features`, stacked),
    memory-mapped from ``directory``: computed on first use and read back later
    while the graph and ``x`` are unchanged (a fingerprint of both is kept).

    Computing streams: hop ``k`` of a block of ``chunk_rows`` rows gathers only
    the hop ``k - 1`` rows of the block's neighbours from the file being written,
    so besides the graph no more than one block's features are in memory; the
    cache is renamed into place only when complete.
    """
    check_features(x, "x", rows=graph.num_nodes)
    if x.dim() != 2 or hops < 1 or chunk_rows < 1:
        raise ValueError(f"expected x [N, F], hops >= 1 and chunk_rows >= 1, got shape "
                         f"{tuple(x.shape)}, {hops} and {chunk_rows}")
    n, f = x.shape
    source = {"graph": [n, graph.num_edges, _digest(graph.rowptr, graph.col, graph.edge_weight)],
              "x": [n, f, _digest(x)], "hops": hops}
    cached = load_cache(directory, source)
    if cached is None:
        adj = gcn_norm(graph.to("cpu"))
        rowptr, col, weight = adj.rowptr, adj.col, adj.edge_weight
        dtype = np.dtype(str(x.dtype).removeprefix("torch."))
        with CacheWriter(directory, source) as writer, torch.no_grad():
            out = writer.open("hops", dtype, (n, hops + 1, f))
            for a in range(0, n, chunk_rows):
                out[a:a + chunk_rows, 0] = x[a:a + chunk_rows].cpu().numpy()
                _release(out)
            for k in range(1, hops + 1):
                for a in range(0, n, chunk_rows):
                    b = min(a + chunk_rows, n)
                    lo, hi = int(rowptr[a]), int(rowptr[b])
                    cols, inverse = col[lo:hi].unique(return_inverse=True)
                    block = CSRGraph(rowptr[a:b + 1] - lo, inverse, weight[lo:hi],
                                     num_cols=cols.numel(), validate=False)
                    prev = torch.from_numpy(out[cols.numpy(), k - 1])  # [U, F]
                    out[a:b, k] = spmm(block, prev).numpy()
                    _release(out)
        cached = load_cache(directory, source)
        if cached is None:
            raise RuntimeError(f"the hop features just written to {directory} could not be "
                               "read back")
    return torch.from_numpy(cached[0]["hops"])
