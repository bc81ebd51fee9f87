"""Processed-dataset cache: one ``.npy`` file per array, memory-mapped on load.

A cache folder is written under a temporary name and renamed into place only
when complete (``meta.json`` last), so an interrupted run never leaves a
half-written cache behind under the real name; the temporary folders of a
killed build are removed by the next build. ``meta.json`` records a
fingerprint of the source files (path, size, modification time), a changed
source file invalidates the cache, and for each array its shape, dtype and the
SHA-256 of its file, taken when it was built, and (for a dataset's cache) for
a floating-point array whether its values are all finite.

Every load checks each array's shape and dtype against that record and the
checksums of the arrays up to :data:`CHECKSUM_ON_LOAD` bytes, and runs the
loader's own invariants (``check``); any mismatch or unreadable file makes the
loader rebuild the cache. :func:`verify_cache` checks every checksum. The larger
arrays are trusted as built, their finiteness included (a loader hands it on
through :func:`~glt.datasets._fields.vouched_finite` rather than reading them).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from typing import Any, Callable, Optional

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the processed layout changes
CHECKSUM_ON_LOAD = 16 << 20  # arrays up to this size are checksummed at every load
_OWNER = "owner.json"  # in a folder being built: who builds it


def fingerprint(base: str, paths: list[str]) -> dict[str, list[int]]:
    """``{path relative to base: [size, mtime_ns]}`` of the existing ``paths``."""
    out = {}
    for p in sorted(paths):
        if os.path.exists(p):
            st = os.stat(p)
            out[os.path.relpath(p, base)] = [st.st_size, st.st_mtime_ns]
    return out


def file_sha256(path: str) -> str:
    """The SHA-256 of a file's bytes, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _array_problem(directory: str, name: str, record: Any, full: bool
                   ) -> tuple[Optional[np.ndarray], Optional[str]]:
    """``(array, None)`` when array ``name`` matches its record, else ``(None, why)``."""
    path = os.path.join(directory, f"{name}.npy")
    if not isinstance(record, dict) or not {"shape", "dtype", "sha256"} <= set(record):
        return None, f"{name}: no shape / dtype / checksum record"
    try:
        size = os.path.getsize(path)
        array = np.load(path, mmap_mode="c") if size > 4096 else np.load(path)
    except Exception as err:  # noqa: BLE001 - numpy raises many types for a broken file
        return None, f"{name}.npy is unreadable ({type(err).__name__}: {err})"
    if list(array.shape) != record["shape"] or array.dtype.str != record["dtype"]:
        return None, (f"{name}.npy holds {array.dtype.str} {list(array.shape)}, built as "
                      f"{record['dtype']} {record['shape']}")
    if (full or size <= CHECKSUM_ON_LOAD) and file_sha256(path) != record["sha256"]:
        return None, f"{name}.npy has changed since it was built (SHA-256 mismatch)"
    return array, None


def _describe(path: str, record_finite: bool) -> dict[str, Any]:
    """The meta record of the ``.npy`` file ``path``: shape, dtype, SHA-256 and, with
    ``record_finite`` for a floating-point array, whether its values are all finite
    (hashed and scanned in one read, 8 MiB blocks)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        offset = f.tell()
        f.seek(0)
        digest = hashlib.sha256(f.read(offset))
        scan = record_finite and dtype.kind == "f"
        finite = True
        for block in iter(lambda: f.read(8 << 20), b""):  # a multiple of every item size
            digest.update(block)
            if scan and finite:  # a block whose float64 sum is finite has no NaN or inf
                values = np.frombuffer(block, dtype)
                with np.errstate(over="ignore", invalid="ignore"):  # huge or inf values
                    total = values.sum(dtype=np.float64)
                finite = bool(np.isfinite(total) or np.isfinite(values).all())
    record = {"shape": list(shape), "dtype": dtype.str, "sha256": digest.hexdigest()}
    return dict(record, finite=finite) if scan else record


def read_meta(directory: str) -> Optional[dict[str, Any]]:
    """The ``meta.json`` of the glt cache in ``directory`` (a dict with ``format``
    and an ``arrays`` dict), or ``None`` when there is none or it is unreadable."""
    try:
        with open(os.path.join(directory, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    ok = isinstance(meta, dict) and "format" in meta and isinstance(meta.get("arrays"), dict)
    return meta if ok else None


def load_cache(directory: str, source: dict[str, Any],
               check: Optional[Callable[[dict[str, np.ndarray]], None]] = None
               ) -> Optional[tuple[dict[str, np.ndarray], dict[str, Any], set[str]]]:
    """The cached ``(arrays, info, finite)`` if ``directory`` holds a complete,
    intact cache made from files with fingerprint ``source``; else ``None`` (the
    caller rebuilds). ``finite`` names the floating-point arrays whose values
    were all finite when the cache was built. Arrays are copy-on-write memory
    maps: pages are read on first touch and never written back.

    Intact means: every array's shape and dtype are as built, the arrays up to
    :data:`CHECKSUM_ON_LOAD` bytes have their recorded SHA-256, and
    ``check(arrays)`` (the loader's invariants) raises no ``ValueError``.
    """
    meta = read_meta(directory)
    if meta is None:
        return None
    if meta.get("format") != FORMAT or meta.get("source") != source:
        log.info("cache %s is stale: reprocessing", directory)
        return None
    arrays = {}
    for name, record in meta["arrays"].items():
        array, problem = _array_problem(directory, name, record, full=False)
        if problem is not None:
            log.warning("cache %s: %s; reprocessing", directory, problem)
            return None
        arrays[name] = array
    if check is not None:
        try:
            check(arrays)
        except ValueError as err:
            log.warning("cache %s fails its checks (%s); reprocessing", directory, err)
            return None
    finite = {name for name, record in meta["arrays"].items() if record.get("finite") is True}
    return arrays, meta.get("info", {}), finite


def verify_cache(directory: str) -> list[str]:
    """Every problem of the cache in ``directory``: unreadable files, shapes or
    dtypes other than built, and any file whose SHA-256 differs from the one
    taken when it was built (read in full). An empty list: intact."""
    meta = read_meta(directory)
    if meta is None:
        return ["meta.json is missing, unreadable or not a glt cache's"]
    if meta.get("format") != FORMAT:
        return [f"format {meta.get('format')} is not glt's current {FORMAT}: it will be rebuilt"]
    problems = []
    for name, record in meta["arrays"].items():
        problem = _array_problem(directory, name, record, full=True)[1]
        if problem is not None:
            problems.append(problem)
    return problems


def find_caches(root: str) -> list[str]:
    """The glt cache folders under ``root`` (those holding glt's ``meta.json``)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if ".tmp-" not in d)
        if "meta.json" in files and read_meta(folder) is not None:
            found.append(folder)
    return found


def _alive(owner: dict[str, Any]) -> bool:
    """Whether the process that wrote ``owner`` may still be building."""
    if owner.get("host") != socket.gethostname():
        return time.time() - float(owner.get("time", 0)) < 24 * 3600
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


def remove_stale_builds(directory: str) -> list[str]:
    """Delete the temporary folders that killed builds of ``directory`` left
    (their builder is gone, or they carry no owner and are over an hour old)."""
    parent, base = os.path.split(os.path.abspath(directory))
    removed = []
    if not os.path.isdir(parent):
        return removed
    for entry in os.listdir(parent):
        tmp = os.path.join(parent, entry)
        if not entry.startswith(base + ".tmp-") or not os.path.isdir(tmp):
            continue
        try:
            with open(os.path.join(tmp, _OWNER)) as f:
                stale = not _alive(json.load(f))
        except (OSError, ValueError, AttributeError):
            stale = time.time() - os.path.getmtime(tmp) > 3600
        if stale:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
            log.info("removed %s, left by a build that did not finish", tmp)
    return removed


class CacheWriter:
    """Context manager that writes a cache folder atomically.

    ``save(name, array)`` or ``open(name, dtype, shape)`` (a writable memory
    map, for arrays built in place) add arrays; on a clean exit ``meta.json`` is
    written and the folder renamed to ``directory`` (replacing an old one); on
    an exception the partial folder is deleted. With ``record_finite`` the meta
    records, per floating-point array, whether its values are all finite (read
    with the checksum; for a dataset's features).
    """

    def __init__(self, directory: str, source: dict[str, list[int]],
                 info: Optional[dict[str, Any]] = None, record_finite: bool = False) -> None:
        self.directory = os.path.abspath(directory)
        self.source = source
        self.info = dict(info or {})
        self.record_finite = record_finite
        self.names: list[str] = []
        self.tmp = ""

    def __enter__(self) -> "CacheWriter":
        parent = os.path.dirname(self.directory)
        os.makedirs(parent, exist_ok=True)
        remove_stale_builds(self.directory)
        self.tmp = tempfile.mkdtemp(dir=parent, prefix=os.path.basename(self.directory) + ".tmp-")
        with open(os.path.join(self.tmp, _OWNER), "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}, f)
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
        arrays = {name: _describe(os.path.join(self.tmp, f"{name}.npy"), self.record_finite)
                  for name in self.names}
        os.remove(os.path.join(self.tmp, _OWNER))
        with open(os.path.join(self.tmp, "meta.json"), "w") as f:
            json.dump({"format": FORMAT, "source": self.source, "arrays": arrays,
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
