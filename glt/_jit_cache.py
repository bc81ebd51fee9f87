"""Numba checks a kernel's disk cache against the kernel's own source file only:
after an edit to a helper it inlines from another module (``glt/_rng.py``,
``glt/_prefetch.py``) the old machine code would stay in use. Kernel modules
call :func:`track_helpers` so that such an edit recompiles them."""
from __future__ import annotations

import hashlib
import sys
from types import ModuleType

from numba.core.registry import CPUDispatcher


# each tracked kernel module's stamp, for kernels compiled from it later (serial twins)
STAMPS: dict[str, str] = {}


def track_helpers(module: str, *helpers: ModuleType) -> None:
    """Empty the disk cache of every cached Numba kernel defined in ``module``
    when the source of ``helpers`` differs from the one its cache was kept with.

    Call it at the end of a kernel module: ``track_helpers(__name__, _rng)``.
    A stamp (a hash of the helpers' sources) lies beside each kernel's cache
    index. Uses Numba's cache objects (``Dispatcher._cache``); where a Numba
    version lacks them nothing is done, and glt's tests fail.
    """
    digest = hashlib.sha256()
    for helper in helpers:
        with open(helper.__file__, "rb") as f:
            digest.update(f.read())
    STAMPS[module] = digest.hexdigest()
    for kernel in list(vars(sys.modules[module]).values()):
        if isinstance(kernel, CPUDispatcher) and kernel.py_func.__module__ == module:
            refresh_cache(kernel, STAMPS[module])


def refresh_cache(kernel: CPUDispatcher, stamp: str) -> None:
    """Empty ``kernel``'s disk cache unless it was kept with helpers of ``stamp``."""
    index = getattr(getattr(kernel._cache, "_cache_file", None), "_index_path", None)
    if index is None:  # a kernel without cache=True (or a Numba that moved its index)
        return
    path = index + ".helpers"
    try:
        with open(path) as f:
            if f.read() == stamp:
                return
    except OSError:
        pass
    kernel._cache.flush()  # an empty index: the next call compiles and caches anew
    try:  # a torn or unwritable stamp only costs another compile
        with open(path, "w") as f:
            f.write(stamp)
    except OSError:
        pass
