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
context) cannot launch a parallel kernel: Numba would terminate it. There glt
runs each kernel's serial twin, compiled without ``parallel`` on first use (and
cached on disk), with the same results. The work queue takes one launch at a
time, so under it glt's launches (a sampler's background thread beside the
training loop) wait for each other.
"""
from __future__ import annotations

import os
import sys
import threading
import types
from contextlib import nullcontext
from typing import Any, Callable, Optional

import numba
import torch
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher

from glt._jit_cache import STAMPS, refresh_cache

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
    :data:`SERIAL_WORK` or in a process forked from an OpenMP pool, else torch's
    thread count, at most Numba's."""
    if work < SERIAL_WORK or _forked_from_openmp:  # Numba's pool not started for it
        return 1
    return _threads_of(work, _numba_threads())


def _threads_of(work: int, pool: int) -> int:
    """:func:`threads_for` ``(work)`` with Numba's thread count ``pool`` known."""
    return 1 if work < SERIAL_WORK else max(1, min(pool, torch.get_num_threads()))


_serial_twins: dict[Any, Any] = {}


def serial_twin(kernel: Any) -> Any:
    """A Numba ``parallel=True`` kernel compiled without ``parallel`` (its ``prange``
    loops run in order on the calling thread), the parallel kernels it calls by name
    replaced by their twins; cached on disk under its own name when the kernel is."""
    twin = _serial_twins.get(kernel)
    if twin is None:
        py = kernel.py_func
        scope = dict(py.__globals__)
        for name in py.__code__.co_names:
            value = scope.get(name)
            if isinstance(value, Dispatcher) and value.targetoptions.get("parallel"):
                scope[name] = serial_twin(value)
        func = types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__,
                                  py.__closure__)
        func.__qualname__, func.__module__ = py.__qualname__ + "_serial", py.__module__
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        twin = numba.njit(**{**options, "parallel": False})(func)
        if isinstance(kernel._cache, FunctionCache):
            twin.enable_caching()
            if py.__module__ in STAMPS:  # its helpers' edits recompile it too
                refresh_cache(twin, STAMPS[py.__module__])
        _serial_twins[kernel] = twin
    return twin


def run_kernel(kernel: Callable[..., Any], work: int, *args: Any) -> Any:
    """``kernel(*args)`` on :func:`threads_for` ``(work)`` threads: the calling
    thread alone for small inputs, else Numba's thread pool; in a process forked
    from an OpenMP pool, its :func:`serial_twin`."""
    if _forked_from_openmp:
        return serial_twin(kernel)(*args)
    threads = _numba_threads()
    wanted = _threads_of(work, threads)
    with _one_launch or nullcontext():
        if wanted == threads:
            return kernel(*args)
        numba.set_num_threads(wanted)
        try:
            return kernel(*args)
        finally:
            numba.set_num_threads(threads)
