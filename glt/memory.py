"""Reuse of freed CPU memory in training processes (glibc's allocator).

glibc maps allocations above its mmap threshold (128 KiB at first, adapting up
to 32 MiB) fresh from the operating system and returns them on free, and trims
freed memory at the top of its heap past twice that. A training step that
allocates the same large tensors every time (Cora's 2708 x 1433 generated
feature sets, a batch's ``[B, I]`` scores) then pays a page fault for every
page of them again. :func:`keep_freed_memory` keeps that memory in the process
for the next step; glt's recipes call it at start (its effect is measured in
``benchmarks/RESULTS.md``, local augmentation).
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory(max_chunk: int = 256 << 20, keep: int = 1 << 30) -> bool:
    """Serve allocations of up to ``max_chunk`` bytes from the heap and keep up to
    ``keep`` bytes of freed memory for reuse, through glibc's ``mallopt``
    (``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD``; the same as the environment
    variables ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``).

    The process's resident memory then stays near its peak instead of shrinking
    after each step. Returns whether the settings were applied: ``False`` where
    the C library has no ``mallopt`` (macOS, Windows) or when one of those
    variables is set (the user's choice is kept).

    Args:
        max_chunk: largest allocation served from the heap (default 256 MiB).
        keep: freed memory kept at the top of the heap (default 1 GiB).
    """
    for name, value in (("max_chunk", max_chunk), ("keep", keep)):
        if not 0 < value < 2 ** 31:
            raise ValueError(f"expected {name} in bytes between 1 and 2**31 - 1, got {value}")
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # (setting either one also turns off glibc's adapting of both)
    return bool(mallopt(_M_TRIM_THRESHOLD, keep)) and bool(mallopt(_M_MMAP_THRESHOLD, max_chunk))
