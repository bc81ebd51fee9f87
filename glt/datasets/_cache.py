"""Processed-dataset cache: one ``.npy`` file per array, memory-mapped on load.

A cache folder is written under a temporary name and renamed into place only
when complete (``meta.json`` last), so an interrupted run never leaves a
half-written cache behind under the real name. ``meta.json`` records a
fingerprint of the source files (path, size, modification time); a changed
source file invalidates the cache.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from typing import Any, Optional

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the processed layout changes


def fingerprint(base: str, paths: list[str]) -> dict[str, list[int]]:
    """``{path relative to base: [size, mtime_ns]}`` of the existing ``paths``."""
    out = {}
    for p in sorted(paths):
        if os.path.exists(p):
            st = os.stat(p)
            out[os.path.relpath(p, base)] = [st.st_size, st.st_mtime_ns]
    return out


def load_cache(directory: str, source: dict[str, list[int]]
               ) -> Optional[tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """The cached ``(arrays, meta)`` if ``directory`` holds a complete cache made
    from files with fingerprint ``source``; else ``None``. Arrays are
    copy-on-write memory maps: pages are read on first touch and never written back."""
    meta_path = os.path.join(directory, "meta.json")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("source") != source:
        log.info("cache %s is stale: reprocessing", directory)
        return None
    arrays = {}
    try:
        for name in meta["arrays"]:
            path = os.path.join(directory, f"{name}.npy")
            arrays[name] = (np.load(path, mmap_mode="c") if os.path.getsize(path) > 4096
                            else np.load(path))
    except (OSError, ValueError, KeyError) as err:
        log.warning("cache %s is unreadable (%s): reprocessing", directory, err)
        return None
    return arrays, meta.get("info", {})


class CacheWriter:
    """Context manager that writes a cache folder atomically.

    ``save(name, array)`` or ``open(name, dtype, shape)`` (a writable memory
    map, for arrays built in place) add arrays; on a clean exit ``meta.json`` is
    written and the folder renamed to ``directory`` (replacing an old one); on
    an exception the partial folder is deleted.
    """

    def __init__(self, directory: str, source: dict[str, list[int]],
                 info: Optional[dict[str, Any]] = None) -> None:
        self.directory = os.path.abspath(directory)
        self.source = source
        self.info = dict(info or {})
        self.names: list[str] = []
        self.tmp = ""

    def __enter__(self) -> "CacheWriter":
        parent = os.path.dirname(self.directory)
        os.makedirs(parent, exist_ok=True)
        self.tmp = tempfile.mkdtemp(dir=parent, prefix=os.path.basename(self.directory) + ".tmp-")
        return self

    def path(self, name: str) -> str:
        """Where array ``name`` goes in the folder being written (registers the name)."""
        if name in self.names:
            raise ValueError(f"array {name!r} written twice to the cache")
        self.names.append(name)
        return os.path.join(self.tmp, f"{name}.npy")

    def save(self, name: str, array: np.ndarray) -> None:
        np.save(self.path(name), np.ascontiguousarray(array))

    def open(self, name: str, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
        return np.lib.format.open_memmap(self.path(name), mode="w+", dtype=dtype, shape=shape)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        with open(os.path.join(self.tmp, "meta.json"), "w") as f:
            json.dump({"format": FORMAT, "source": self.source, "arrays": self.names,
                       "info": self.info}, f)
        # several processes (torchrun ranks) may build the same cache at once: the first
        # complete copy in place stays (another may be reading it), later ones are dropped
        if load_cache(self.directory, self.source) is None:
            if os.path.exists(self.directory):
                shutil.rmtree(self.directory, ignore_errors=True)  # stale or broken
            try:
                os.replace(self.tmp, self.directory)
                return
            except OSError:  # a twin's copy landed after the check
                if load_cache(self.directory, self.source) is None:
                    raise
        shutil.rmtree(self.tmp, ignore_errors=True)
