"""Counter-based random numbers for Numba kernels: every draw is a hash of
``(base, stream, j)``, so results depend on the seed alone, never on the
thread count or the order threads run in."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(inline="always")
def _mix(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective 64-bit hash."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def stream_key(base: np.uint64, stream: np.int64) -> np.uint64:
    """Key of one random stream (a node at one hop) under seed ``base``."""
    return _mix(base + np.uint64(stream) * np.uint64(0x9E3779B97F4A7C15))


@njit(inline="always")
def randint(key: np.uint64, j: np.int64, n: np.int64) -> np.int64:
    """The ``j``-th draw of stream ``key``, uniform in ``[0, n)``."""
    bits = _mix(key + np.uint64(j) * np.uint64(0xD1B54A32D192ED03)) >> np.uint64(11)
    return np.int64(np.float64(bits) * (1.0 / 9007199254740992.0) * n)
