"""Calling glt's parallel Numba kernels: small inputs run on the calling thread.

Starting a parallel region wakes Numba's thread pool. On a small input that
costs more than the work itself, and on a busy machine (other processes, or
torch's own threads spinning) the wake-up can wait a whole scheduler slice.
The kernels' results do not depend on the thread count (counter-based random
numbers, fixed reduction order), so the choice changes only the speed; the
exceptions are the backward of ``glt.ops.pair_product`` and ``gather_dot`` and
``softplus_dot_loss``'s value and table gradient, whose per-thread partial sums
are added in a grouping set by the thread count (the same sums up to float
rounding).

The kernels follow torch's thread count (``OMP_NUM_THREADS``,
``torch.set_num_threads``), at most Numba's pool (``NUMBA_NUM_THREADS``, default
every core): one setting limits a process, as with torch alone. Starting Numba's
pool sets the OpenMP runtime's thread count, which torch shares, to the pool's
size; torch's count is put back at that moment.
"""
from __future__ import annotations

from typing import Any, Callable

import numba
import torch

# Inputs touching fewer entries than this run on the calling thread alone: below
# it a pool wake-up costs more than the work (Cora's 13k-entry adjacency:
# 8-wide features run serially, 16-wide and wider on the pool).
SERIAL_WORK = 1 << 17


_pool_started = False


def _numba_threads() -> int:
    """Numba's current thread count, its pool started first with torch's thread
    count kept."""
    global _pool_started
    if not _pool_started:
        threads = torch.get_num_threads()
        numba.get_num_threads()  # starts the pool: OpenMP's count becomes the pool's size
        torch.set_num_threads(threads)
        _pool_started = True
    return numba.get_num_threads()


def threads_for(work: int) -> int:
    """Threads a kernel touching ``work`` entries runs on: 1 below
    :data:`SERIAL_WORK`, else torch's thread count, at most Numba's."""
    if work < SERIAL_WORK:
        return 1
    return max(1, min(_numba_threads(), torch.get_num_threads()))


def run_kernel(kernel: Callable[..., Any], work: int, *args: Any) -> Any:
    """``kernel(*args)`` on :func:`threads_for` ``(work)`` threads: the calling
    thread alone for small inputs, else Numba's thread pool."""
    threads = _numba_threads()
    wanted = threads_for(work)
    if wanted == threads:
        return kernel(*args)
    numba.set_num_threads(wanted)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(threads)
