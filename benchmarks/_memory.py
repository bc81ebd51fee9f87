"""Memory figures for benchmarks that run each case in a fresh subprocess."""
from __future__ import annotations

import ctypes


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``), in MB.
    (``VmHWM`` restarts at exec, unlike ``ru_maxrss``, which a child inherits from its parent.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Hand freed heap memory back to the OS (glibc's ``malloc_trim``) and restart
    this process's ``VmHWM`` at its resident memory (Linux's ``clear_refs``), so a
    later peak excludes the setup's (e.g. building a graph) and the resident
    memory left is what the setup still holds."""
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
