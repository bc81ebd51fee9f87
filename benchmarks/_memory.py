"""Memory figures for benchmarks that run each case in a fresh subprocess."""
from __future__ import annotations


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), in MB.
    (``VmHWM`` restarts at exec, unlike ``ru_maxrss``, which a child inherits from its parent.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")
