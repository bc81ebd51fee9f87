"""OGB node and link property prediction sets (``ogbn-*``, ``ogbl-*``).

Reads OGB's own on-disk release (``raw/*.csv.gz`` or ``raw/data.npz``,
``split/<name>/``, ``RELEASE_v<version>.txt``) the way the ``ogb`` package does,
downloads missing releases from OGB's URLs, and never prompts: what ``ogb``
would ask on stdin is decided by the ``download`` and ``update`` arguments. The
processed graph is cached as memory-mapped ``.npy`` files next to the release
(``<root>/<name>/glt_processed/``), so later loads take seconds and touch only
the pages used.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from typing import Optional, Union

import numpy as np
import torch

from glt._unpickle import ARCHIVE_ERRORS, NUMPY, TORCH_TENSORS, read_torch_file
from glt.datasets._cache import CacheWriter, fingerprint, load_cache
from glt.datasets._csr import check_csr, check_ids, graph_count, write_csr
from glt.datasets._download import download_url
from glt.datasets._fields import vouched_finite
from glt.datasets._layout import dataset_folder
from glt.datasets.link import LinkDataset, check_split_shapes, has_positives
from glt.datasets.node import NodeDataset
from glt.datasets.planetoid import default_root
from glt.datasets.registry import DatasetInfo, dataset_info
from glt.graph import CSRGraph

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
_SPLIT_TYPES = {**NUMPY, **TORCH_TENSORS}


def load_ogb(name: str, root: Optional[str] = None, download: bool = True,
             update: bool = False, cache_dir: Optional[str] = None
             ) -> Union[NodeDataset, LinkDataset]:
    """Load an OGB node (``ogbn-*``) or link (``ogbl-*``) set, with its standard split.

    Args:
        name: a registered OGB name (``glt.datasets.list_datasets("ogb")``).
        root: data folder (default :func:`default_root`); the release lives in
            ``<root>/<name with _ for ->/``, as ``ogb`` lays it out, or is ``root``
            itself when that folder has the release's name (``ogbl_ddi``, or
            ``ddi`` as the zip unpacks) and its ``RELEASE_v*.txt``.
        download: fetch the release from OGB when it is missing, whatever its
            size (``ogb`` would ask first above 1 GB); otherwise a missing
            release raises ``FileNotFoundError``.
        update: when the folder holds an older release (no
            ``RELEASE_v<version>.txt``), delete it and download the current one;
            otherwise that raises ``RuntimeError`` (``ogb`` would ask).
        cache_dir: where the processed arrays go (default
            ``<release>/glt_processed``, or ``<default_root()>/processed/<name>-<hash
            of the release path>`` when the release folder cannot be written,
            e.g. a shared read-only copy).
    """
    info = dataset_info(name, source="ogb")
    path = _release_dir(info, root if root is not None else default_root(), download, update)
    source = fingerprint(path, _source_files(info, path))
    cache_dir = cache_dir or _default_cache_dir(info, path)
    cached = load_cache(cache_dir, source, check_arrays)
    if cached is None:
        log.info("processing %s (first load; later loads use %s)", info.name, cache_dir)
        with CacheWriter(cache_dir, source, record_finite=True) as writer:
            _process(info, path, writer)
        cached = load_cache(cache_dir, source, check_arrays)
        if cached is None:
            raise RuntimeError(f"the cache just written to {cache_dir} could not be read back")
    arrays, _, finite = cached
    return _assemble(info, arrays, finite)


# ---------------------------------------------------------------------- files
def _writable(folder: str) -> bool:
    """Whether ``folder`` is meant to be written: it has a write bit (root could
    write a folder marked read-only) and a file can be created there."""
    if not os.stat(folder).st_mode & 0o222:
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".glt-write-check-"):
            return True
    except OSError:
        return False


def _default_cache_dir(info: DatasetInfo, path: str) -> str:
    own = os.path.join(path, "glt_processed")
    if os.path.isdir(own) or _writable(path):
        return own
    key = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    elsewhere = os.path.join(default_root(), "processed", f"{info.name}-{key}")
    log.info("%s cannot be written: caching %s in %s", path, info.name, elsewhere)
    return elsewhere


def _release_dir(info: DatasetInfo, root: str, download: bool, update: bool) -> str:
    release = f"RELEASE_v{info.version}.txt"
    path = dataset_folder(root, (info.name.replace("-", "_"), info.extra["download_name"]),
                          release)
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, release)):
        if not update:
            raise RuntimeError(f"{path} holds an older release of {info.name} (no {release}); "
                               f"pass update=True to delete it and download the current one")
        log.warning("%s: no %s; deleting the old release (update=True)", path, release)
        shutil.rmtree(path)
    missing = [f for f in _required_files(info, path) if not os.path.exists(f)]
    if missing and os.path.isdir(path):
        raise FileNotFoundError(f"{info.name} release in {path} is incomplete: missing "
                                f"{', '.join(os.path.relpath(f, path) for f in missing)}")
    if missing:
        if not download:
            raise FileNotFoundError(f"{info.name} is not in {path}; pass download=True to fetch "
                                    f"it from {info.url}, or unpack the release there")
        _download(info, root, path)
    return path


def _required_files(info: DatasetInfo, path: str) -> list[str]:
    raw = os.path.join(path, "raw")
    split = os.path.join(path, "split", info.split)
    if info.extra["binary"]:
        files = [os.path.join(raw, "data.npz"), os.path.join(raw, "node-label.npz")]
    else:
        files = [os.path.join(raw, f"{f}.csv.gz") for f in
                 ("edge", "num-node-list", "num-edge-list",
                  *info.extra["node_files"], *info.extra["edge_files"])]
        if info.task == "node":
            files.append(os.path.join(raw, "node-label.csv.gz"))
    ext = "csv.gz" if info.task == "node" else "pt"
    return files + [os.path.join(split, f"{s}.{ext}") for s in SPLITS]


def _source_files(info: DatasetInfo, path: str) -> list[str]:
    raw = os.path.join(path, "raw")
    optional = [os.path.join(raw, f) for f in ("node-feat.csv.gz", "edge-feat.csv.gz")]
    return _required_files(info, path) + optional


def _download(info: DatasetInfo, root: str, path: str) -> None:
    zip_path = os.path.join(root, os.path.basename(info.url))
    download_url(info.url, zip_path, info.file_record(os.path.basename(info.url)))
    tmp = tempfile.mkdtemp(dir=root, prefix=".extract-")
    try:
        try:
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(tmp)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as err:
            os.remove(zip_path)
            raise ValueError(f"the download of {info.url} is corrupt ({err}); it was deleted, "
                             f"load again to re-download") from err
        extracted = os.path.join(tmp, info.extra["download_name"])
        if not os.path.isdir(extracted):
            raise ValueError(f"{zip_path} does not hold the folder "
                             f"{info.extra['download_name']!r} of an OGB release")
        os.replace(extracted, path)
        os.remove(zip_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_csv(path: str) -> np.ndarray:
    """A headerless ``.csv.gz`` as ``ogb`` reads it: int64 if integral, else float32."""
    import pandas as pd
    try:
        values = pd.read_csv(path, compression="gzip", header=None).values
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError,
            pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"could not read {path}: {err}. The file looks truncated or corrupt; "
                         f"delete the release folder and load again to re-download it") from err
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        return values.astype(np.float32)
    raise ValueError(f"{path} holds non-numeric values (pandas read {values.dtype}); "
                     f"expected comma-separated numbers")


def _check_rows(array: np.ndarray, rows: int, what: str) -> None:
    if array.shape[0] != rows:
        raise ValueError(f"{what}: expected {rows} rows, got {array.shape[0]}")


# ---------------------------------------------------------------------- processing
def _process(info: DatasetInfo, path: str, writer: CacheWriter) -> None:
    raw = os.path.join(path, "raw")
    if info.extra["binary"]:
        num_nodes = _process_binary(info, raw, writer)
    else:
        num_nodes = _process_csv(info, raw, writer)
    split_dir = os.path.join(path, "split", info.split)
    if info.task == "node":
        y = np.load(os.path.join(writer.tmp, "y.npy"), mmap_mode="r")
        for s in SPLITS:
            f = os.path.join(split_dir, f"{s}.csv.gz")
            idx = _read_csv(f).reshape(-1)
            if idx.dtype != np.int64:
                raise ValueError(f"{f}: expected integer node ids, got {idx.dtype}")
            check_ids(idx, num_nodes, f)
            unlabelled = int((y[idx] < 0).sum()) if y.ndim == 1 else 0
            if unlabelled:
                raise ValueError(f"{f}: {unlabelled} of its {idx.size} nodes have no label; "
                                 "the release looks corrupt")
            writer.save(f"split.{s}", idx)
    else:
        for s in SPLITS:
            f = os.path.join(split_dir, f"{s}.pt")
            part = read_torch_file(f, _SPLIT_TYPES)  # OGB ships NumPy arrays, legacy format
            if not isinstance(part, dict) or not has_positives(part):
                raise ValueError(f"{f}: expected a dict with an 'edge' entry (or 'source_node' "
                                 "and 'target_node')")
            for key, value in part.items():
                if not isinstance(key, str) or not isinstance(value, (np.ndarray, torch.Tensor)):
                    raise ValueError(f"{f}: expected arrays under string keys, got {key!r}: "
                                     f"{type(value).__name__}")
            check_split_shapes(part, f"{f} ")
            for key, value in part.items():
                value = value.numpy() if isinstance(value, torch.Tensor) else value
                if _node_ids(key):
                    check_ids(value, num_nodes, f"{f} [{key}]")
                writer.save(f"split.{s}.{key}", value)


def _process_csv(info: DatasetInfo, raw: str, writer: CacheWriter) -> int:
    def read(stem: str) -> np.ndarray:
        return _read_csv(os.path.join(raw, f"{stem}.csv.gz"))

    num_nodes, num_edges = (graph_count(read(stem), f"{raw}/{stem}.csv.gz")
                            for stem in ("num-node-list", "num-edge-list"))
    edge = read("edge")
    if edge.ndim != 2 or edge.shape[1] != 2 or edge.dtype != np.int64:
        raise ValueError(f"{raw}/edge.csv.gz: expected two integer columns, got shape "
                         f"{edge.shape} of {edge.dtype}")
    _check_rows(edge, num_edges, f"{raw}/edge.csv.gz (num-edge-list.csv.gz says {num_edges})")
    inverse = bool(info.extra["add_inverse_edge"])
    edge_files = list(info.extra["edge_files"])
    has_edge_feat = os.path.exists(os.path.join(raw, "edge-feat.csv.gz"))
    with_eid = has_edge_feat or bool(edge_files)
    write_csr(writer, np.ascontiguousarray(edge[:, 0]), np.ascontiguousarray(edge[:, 1]),
              num_nodes, inverse, with_eid, f"{raw}/edge.csv.gz")
    if with_eid:
        order = np.load(os.path.join(writer.tmp, "edge_id.npy"), mmap_mode="r")
        order = order // 2 if inverse else order
        per_edge = [("edge-feat", "edge_attr")] if has_edge_feat else []
        for stem, key in per_edge + [(f, f"edge.{f}") for f in edge_files]:
            values = read(stem)
            _check_rows(values, num_edges, f"{raw}/{stem}.csv.gz")
            writer.save(key, values[order])
    if os.path.exists(os.path.join(raw, "node-feat.csv.gz")):
        x = read("node-feat")
        _check_rows(x, num_nodes, f"{raw}/node-feat.csv.gz")
        writer.save("x", x)
    for stem in info.extra["node_files"]:
        values = read(stem)
        _check_rows(values, num_nodes, f"{raw}/{stem}.csv.gz")
        writer.save(f"node.{stem}", values)
    if info.task == "node":
        _save_labels(writer, read("node-label"), num_nodes, f"{raw}/node-label.csv.gz")
    return num_nodes


def _damaged(path: str, err: BaseException) -> ValueError:
    return ValueError(f"could not read {path}: {err or type(err).__name__}. The file looks "
                      f"truncated or corrupt; delete the release folder and load again to "
                      f"re-download it")


def _process_binary(info: DatasetInfo, raw: str, writer: CacheWriter) -> int:
    """``raw/data.npz``: each member is streamed into the cache (never all in memory)."""
    npz = os.path.join(raw, "data.npz")
    scratch = os.path.join(writer.tmp, "scratch_edge_index.npy")
    try:
        with zipfile.ZipFile(npz) as z:
            members = {m[:-4] for m in z.namelist() if m.endswith(".npy")}
            for need in ("edge_index", "num_nodes_list", "num_edges_list"):
                if need not in members:
                    raise ValueError(f"{npz}: no array {need!r} (found {sorted(members)})")
            sizes = {k: np.load(z.open(f"{k}.npy")).reshape(-1)
                     for k in ("num_nodes_list", "num_edges_list")}
            num_nodes = graph_count(sizes["num_nodes_list"], f"{npz} [num_nodes_list]")
            with z.open("edge_index.npy") as src, open(scratch, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 24)
            for key in sorted(members - {"edge_index", "num_nodes_list", "num_edges_list"}):
                name = "x" if key == "node_feat" else f"node.{key}"
                with z.open(f"{key}.npy") as src, open(writer.path(name), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 24)
    except ARCHIVE_ERRORS as err:  # glt's own errors name the file already
        raise (err if npz in str(err) else _damaged(npz, err)) from err
    edge_index = np.load(scratch, mmap_mode="r")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{npz}: expected edge_index of shape [2, E], got {edge_index.shape}")
    write_csr(writer, edge_index[0], edge_index[1], num_nodes, False, False,
              f"{npz} [edge_index]")
    del edge_index
    os.remove(scratch)
    for name in writer.names:
        if name == "x" or name.startswith("node."):
            values = np.load(os.path.join(writer.tmp, f"{name}.npy"), mmap_mode="r")
            _check_rows(values, num_nodes, f"{npz} [{name}]")
    labels_path = os.path.join(raw, "node-label.npz")
    try:
        with np.load(labels_path, allow_pickle=False) as f:
            labels = f["node_label"]
    except ARCHIVE_ERRORS as err:
        raise _damaged(labels_path, err) from err
    _save_labels(writer, labels, num_nodes, labels_path)
    return num_nodes


def _save_labels(writer: CacheWriter, labels: np.ndarray, num_nodes: int, what: str) -> None:
    """Labels as int64, ``-1`` where missing (NaN), ``[N]`` for a single task."""
    labels = labels.reshape(labels.shape[0], -1)
    _check_rows(labels, num_nodes, what)
    if labels.dtype.kind == "f":
        missing = np.isnan(labels)
        labels = np.where(missing, -1, labels).astype(np.int64)
    writer.save("y", labels[:, 0] if labels.shape[1] == 1 else labels.astype(np.int64))


# ---------------------------------------------------------------------- assembly
def _node_ids(key: str) -> bool:
    """Whether a link split's array ``key`` holds node ids (``edge``, ``edge_neg``,
    ``source_node``, ``target_node_neg``), not weights or years."""
    return key.startswith("edge") or "node" in key


def _holds_node_ids(name: str) -> bool:
    """Whether the cached split array ``name`` holds node ids: a node split
    (``split.train``) or a link split's node ids (``split.valid.edge_neg``)."""
    parts = name.split(".", 2)
    return len(parts) == 2 or _node_ids(parts[2])


def check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """The invariants of a processed graph, checked at every cached load before
    any kernel sees the arrays: a valid CSR, edge ids below ``E``, split ids
    below ``N``, one row per node or edge in the per-node and per-edge arrays."""
    if "rowptr" not in arrays or "col" not in arrays:
        raise ValueError("no rowptr / col arrays")
    rowptr, col = arrays["rowptr"], arrays["col"]
    num_nodes, num_edges = rowptr.shape[0] - 1, col.shape[0]
    check_csr(rowptr, col, num_nodes)
    for name, array in arrays.items():
        if name == "edge_id":
            check_ids(array, num_edges, name)
        if name.startswith("split.") and _holds_node_ids(name):
            check_ids(array, num_nodes, name)
        rows = (num_edges if name in ("edge_id", "edge_attr") or name.startswith("edge.")
                else num_nodes if name in ("x", "y") or name.startswith("node.") else None)
        if rows is not None and (array.ndim == 0 or array.shape[0] != rows):
            raise ValueError(f"{name} has shape {array.shape}, expected {rows} rows")


def _assemble(info: DatasetInfo, arrays: dict[str, np.ndarray], finite: set[str]
              ) -> Union[NodeDataset, LinkDataset]:
    """The dataset of the cached ``arrays``; those named in ``finite`` were found
    finite when the cache was built and are not read again."""
    t = {k: torch.from_numpy(v) for k, v in arrays.items()}
    vouched = vouched_finite(*(t[k] for k in finite))
    graph = CSRGraph(t["rowptr"], t["col"], edge_id=t.get("edge_id"),
                     validate=False)  # checked by check_arrays at the load
    x = t.get("x")
    edge_attr = t.get("edge_attr")
    node_attr = {k[5:]: v.view(-1) if v.dim() == 2 and v.size(1) == 1 else v  # [N, 1] -> [N]
                 for k, v in t.items() if k.startswith("node.")}
    if info.task == "link":
        split: dict[str, dict[str, torch.Tensor]] = {s: {} for s in SPLITS}
        for k, v in t.items():
            if k.startswith("split."):
                _, s, key = k.split(".", 2)
                split[s][key] = v
        with vouched:
            return LinkDataset(info.name, graph, x, split, info, edge_attr,
                               {k[5:]: v for k, v in t.items() if k.startswith("edge.")},
                               node_attr)
    num_nodes = graph.num_nodes

    def mask(idx: torch.Tensor) -> torch.Tensor:
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[idx] = True
        return m

    with vouched:
        return NodeDataset(info.name, graph, x, t["y"], mask(t["split.train"]),
                           mask(t["split.valid"]), mask(t["split.test"]), int(info.num_classes),
                           info, node_attr, edge_attr)
