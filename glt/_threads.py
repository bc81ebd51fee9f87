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

Numba's pool runs on its default layer (TBB where installed, else OpenMP, else
its own work queue; ``NUMBA_THREADING_LAYER`` chooses). Under GNU OpenMP a
process forked after the pool started (a ``DataLoader`` worker with the "fork"
context) cannot run a parallel kernel: Numba would terminate it, so glt raises an
error that says what to change. The work queue takes one launch at a time, so
under it glt's launches (a sampler's background thread beside the training
loop) wait for each other.
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import nullcontext
from typing import Any, Callable, Optional

import numba
import torch

# Inputs touching fewer entries than this run on the calling thread alone: below
# it a pool wake-up costs more than the work (Cora's 13k-entry adjacency:
# 8-wide features run serially, 16-wide and wider on the pool).
SERIAL_WORK = 1 << 17


_pool_started = False
_one_launch: Optional[threading.RLock] = None  # set when the layer takes one launch at a time
_forked_from_openmp = False  # this process was forked after its parent's OpenMP pool started


def _after_fork_in_child() -> None:
    global _forked_from_openmp
    if _pool_started and sys.platform == "linux" and numba.threading_layer() == "omp":
        _forked_from_openmp = True


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _numba_threads() -> int:
    """Numba's current thread count, its pool started first with torch's thread
    count kept."""
    global _pool_started, _one_launch
    if _forked_from_openmp:
        raise RuntimeError(
            "glt's CPU kernels cannot run in a process forked after its parent started "
            "Numba's GNU OpenMP thread pool (Numba would terminate it). For DataLoader "
            "workers pass multiprocessing_context='spawn' or 'forkserver' (or sample in "
            "glt's NeighborLoader, whose background thread needs no process); or choose a "
            "layer that survives a fork, NUMBA_THREADING_LAYER=workqueue or =tbb (with the "
            "tbb package), before the first kernel runs")
    if not _pool_started:
        threads = torch.get_num_threads()
        numba.get_num_threads()  # starts the pool: OpenMP's count becomes the pool's size
        torch.set_num_threads(threads)
        if numba.threading_layer() == "workqueue":
            _one_launch = threading.RLock()
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
    with _one_launch or nullcontext():
        if wanted == threads:
            return kernel(*args)
        numba.set_num_threads(wanted)
        try:
            return kernel(*args)
        finally:
            numba.set_num_threads(threads)
