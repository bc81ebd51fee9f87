"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from the original
``ind.<name>.*`` files of Yang et al. (https://arxiv.org/abs/1603.08861),
with the public split (20 labels per class, 500 validation, 1000 test), or
PyG's ``"full"`` and ``"random"`` splits."""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import replace
from importlib import resources
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
import torch

from glt._unpickle import CONTAINERS, NUMPY, SCIPY_CSR, read_pickle
from glt.datasets._download import fetch_file
from glt.datasets._fields import check_file_finite
from glt.datasets._layout import check_root
from glt.datasets.node import NodeDataset
from glt.datasets.registry import dataset_info, list_datasets
from glt.graph import CSRGraph

log = logging.getLogger(__name__)

PLANETOID_NAMES = {n: dataset_info(n).title for n in list_datasets("planetoid")}
RAW_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def default_root() -> str:
    """Where datasets are kept: ``$GLT_DATA`` or ``~/.cache/glt``."""
    return os.environ.get("GLT_DATA", os.path.join(os.path.expanduser("~"), ".cache", "glt"))


def bundled_cora_dir() -> str:
    """Folder of the Cora raw files shipped inside the package."""
    return str(resources.files("glt.datasets") / "_bundled" / "cora")


_PLANETOID_TYPES = {**NUMPY, **SCIPY_CSR, **CONTAINERS}
_MAX_DENSE = 1 << 31  # entries of a dense feature matrix (PubMed's has 9.9M)


def _read(raw_dir: str, key: str, part: str) -> Any:
    path = os.path.join(raw_dir, f"ind.{key}.{part}")
    try:
        if part == "test.index":
            with warnings.catch_warnings():  # an empty file is named below
                warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
                index = np.loadtxt(path, dtype=np.int64, ndmin=1)
            if index.ndim != 1 or index.size == 0 or index.min() < 0:
                raise ValueError(f"could not read {path}: expected one non-negative node id "
                                 "per line")
            return index
        with open(path, "rb") as f:
            obj = read_pickle(f.read(), _PLANETOID_TYPES, path)
    except (ValueError, UnicodeDecodeError) as err:
        reason = str(err).rstrip(".") if path in str(err) else f"could not read {path}: {err}"
        raise ValueError(f"{reason}. The file looks corrupt; delete it and load again to "
                         f"re-download it.") from err
    if part == "graph":
        if not isinstance(obj, dict) or not all(
                type(k) is int and isinstance(v, list) and all(type(u) is int for u in v)
                for k, v in obj.items()):
            raise ValueError(f"expected {path} to hold an adjacency dict of integer lists, got "
                             f"{type(obj).__name__}")
        return obj
    if isinstance(obj, sp.csr_matrix):
        if obj.shape[0] * obj.shape[1] > _MAX_DENSE:
            raise ValueError(f"{path} holds a {obj.shape[0]} x {obj.shape[1]} matrix, larger "
                             f"than any Planetoid set ({_MAX_DENSE} entries at most)")
        obj = obj.toarray()
    if not isinstance(obj, np.ndarray) or obj.ndim != 2:
        raise ValueError(f"expected {path} to hold a 2-D matrix, got {type(obj).__name__}")
    matrix = obj.astype(np.float32)
    # a damaged file: NaN features, or labels that argmax would misread
    check_file_finite(torch.from_numpy(matrix), f"{path} holds")
    return matrix


def _edge_index(adjacency: dict, num_nodes: int, what: str) -> torch.Tensor:
    """Directed edges of the adjacency lists without self-loops or duplicates."""
    try:
        rows = np.fromiter((u for u, vs in adjacency.items() for _ in vs), dtype=np.int64)
        cols = np.fromiter((v for vs in adjacency.values() for v in vs), dtype=np.int64)
    except OverflowError as err:  # _read checked the types: ints beyond int64 remain
        raise ValueError(f"expected {what} to map node ids to lists of node ids in "
                         f"[0, {num_nodes}) ({type(err).__name__}: {err})") from err
    if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= num_nodes):
        raise ValueError(f"expected {what} to use node ids in [0, {num_nodes})")
    keep = rows != cols
    key = np.unique(rows[keep] * num_nodes + cols[keep])
    return torch.from_numpy(np.stack([key // num_nodes, key % num_nodes]))


def _check_shapes(raw_dir: str, key: str, parts: dict[str, np.ndarray]) -> None:
    """Features and one-hot labels agree: rows of x / y, tx / ty, allx / ally;
    one feature width; one class count."""
    def fail(a: str, b: str, what: str) -> ValueError:
        return ValueError(f"ind.{key}.{a} and ind.{key}.{b} in {raw_dir} disagree on {what} "
                          f"({parts[a].shape} and {parts[b].shape}); a file looks corrupt")
    for features, labels in (("x", "y"), ("tx", "ty"), ("allx", "ally")):
        if parts[features].shape[0] != parts[labels].shape[0]:
            raise fail(features, labels, "the number of rows")
    for a, b in (("x", "tx"), ("x", "allx")):
        if parts[a].shape[1] != parts[b].shape[1]:
            raise fail(a, b, "the number of features")
    for a, b in (("y", "ty"), ("y", "ally")):
        if parts[a].shape[1] != parts[b].shape[1] or parts[a].shape[1] == 0:
            raise fail(a, b, "the number of classes")


def read_planetoid(raw_dir: str, name: str) -> NodeDataset:
    """Build the dataset from the eight ``ind.<name>.*`` files in ``raw_dir``,
    exactly as ``torch_geometric.datasets.Planetoid`` does (same node order,
    features, labels, public split and edges)."""
    key = name.lower()
    x, tx, allx, y, ty, ally, adjacency, test_index = (_read(raw_dir, key, p) for p in RAW_FILES)
    _check_shapes(raw_dir, key, dict(zip(RAW_FILES[:6], (x, tx, allx, y, ty, ally))))
    sorted_test = np.sort(test_index)
    if sorted_test.size != tx.shape[0] or (sorted_test[1:] == sorted_test[:-1]).any():
        raise ValueError(f"expected ind.{key}.test.index in {raw_dir} to list {tx.shape[0]} "
                         f"distinct node ids (one per row of ind.{key}.tx), got "
                         f"{np.unique(test_index).size} distinct of {test_index.size}")
    if key == "citeseer":  # isolated test nodes are missing from tx/ty: zero rows
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext = np.zeros((span, tx.shape[1]), np.float32)
        ty_ext = np.zeros((span, ty.shape[1]), np.float32)
        tx_ext[sorted_test - test_index.min()] = tx
        ty_ext[sorted_test - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext
    features = np.concatenate([allx, tx])
    labels = np.concatenate([ally, ty]).argmax(axis=1)
    if test_index.max() >= features.shape[0]:
        raise ValueError(f"expected test ids below {features.shape[0]} in ind.{key}.test.index, "
                         f"got {test_index.max()}")
    features[test_index] = features[sorted_test]
    labels[test_index] = labels[sorted_test]
    num_nodes = labels.shape[0]

    def mask(index: np.ndarray) -> torch.Tensor:
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[torch.from_numpy(index)] = True
        return m

    num_train = y.shape[0]
    if num_train + 500 > num_nodes:
        raise ValueError(f"expected at least {num_train + 500} nodes in ind.{key}.* (train "
                         f"nodes plus 500 validation nodes), got {num_nodes}")
    what = os.path.join(raw_dir, f"ind.{key}.graph")
    graph = CSRGraph.from_edge_index(_edge_index(adjacency, num_nodes, what), num_nodes)
    return NodeDataset(
        name=PLANETOID_NAMES.get(key, name), graph=graph, x=torch.from_numpy(features),
        y=torch.from_numpy(labels).long(), train_mask=mask(np.arange(num_train)),
        val_mask=mask(np.arange(num_train, num_train + 500)), test_mask=mask(sorted_test),
        num_classes=int(ally.shape[1]))


def _raw_dir(root: str, key: str) -> str:
    """The first of ``<root>/<Name>/raw``, ``<root>/raw`` and ``root`` holding an
    ``ind.<key>.*`` file; the first when none does."""
    layouts = [os.path.join(root, PLANETOID_NAMES[key], "raw"), os.path.join(root, "raw"), root]
    for folder in layouts:
        if any(os.path.isfile(os.path.join(folder, f"ind.{key}.{p}")) for p in RAW_FILES):
            return folder
    return layouts[0]


SPLITS = ("public", "full", "random")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        hint = " (it needs the Geom-GCN split files)" if split == "geom-gcn" else ""
        raise ValueError(f"expected split one of {SPLITS}, got {split!r}{hint}")


def planetoid_split(data: NodeDataset, split: str = "public", num_train_per_class: int = 20,
                    num_val: int = 500, num_test: int = 1000, seed: int = 0) -> NodeDataset:
    """``data`` (a set with its public split) with the masks of ``split``, as
    ``torch_geometric.datasets.Planetoid(..., split=...)`` makes them:
    ``"public"`` as it is; ``"full"``: every node outside the public validation
    and test sets trains (on CiteSeer also its 15 isolated nodes, whose features
    are zero and label 0, as in PyG); ``"random"``: ``num_train_per_class`` random nodes of
    each class train, then ``num_val`` and ``num_test`` random nodes of the rest
    validate and test, drawn from a generator seeded with ``seed`` (PyG's draws
    after ``torch.manual_seed(seed)``). Raises ``ValueError`` where a class or
    the rest is too small for the counts asked (PyG would give fewer)."""
    _check_split(split)
    if split == "public":
        return data
    if split == "full":
        return replace(data, train_mask=~(data.val_mask | data.test_mask))
    for value, what, least in ((num_train_per_class, "num_train_per_class", 1),
                               (num_val, "num_val", 0), (num_test, "num_test", 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"expected {what} to be an integer >= {least}, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    y = data.y.cpu()
    train = torch.zeros(data.num_nodes, dtype=torch.bool)
    for c in range(data.num_classes):
        idx = (y == c).nonzero().view(-1)
        if idx.numel() < num_train_per_class:
            raise ValueError(f"{data.name}: class {c} has {idx.numel()} nodes, fewer than "
                             f"num_train_per_class={num_train_per_class}")
        train[idx[torch.randperm(idx.numel(), generator=generator)[:num_train_per_class]]] = True
    rest = (~train).nonzero().view(-1)
    if num_val + num_test > rest.numel():
        raise ValueError(f"{data.name}: {rest.numel()} nodes are left after the training "
                         f"nodes, fewer than num_val + num_test = {num_val + num_test}")
    rest = rest[torch.randperm(rest.numel(), generator=generator)]
    val, test = torch.zeros_like(train), torch.zeros_like(train)
    val[rest[:num_val]] = True
    test[rest[num_val:num_val + num_test]] = True
    device = data.train_mask.device
    return replace(data, train_mask=train.to(device), val_mask=val.to(device),
                   test_mask=test.to(device))


def load_planetoid(name: str = "cora", root: Optional[str] = None, download: bool = True,
                   url: Optional[str] = None, split: str = "public",
                   num_train_per_class: int = 20, num_val: int = 500, num_test: int = 1000,
                   seed: int = 0) -> NodeDataset:
    """Load a Planetoid dataset with its public split, or with ``split``
    ``"full"`` or ``"random"`` (:func:`planetoid_split`, which the last four
    arguments are for).

    Args:
        name: ``"cora"``, ``"citeseer"`` or ``"pubmed"`` (any case).
        root: data folder: the files are read from ``<root>/<Name>/raw/`` (PyG's
            layout), ``<root>/raw/`` or ``<root>`` itself (the Planetoid
            repository's ``data/`` folder), whichever holds an ``ind.<name>.*``
            file, else downloaded into ``<root>/<Name>/raw/``. ``None`` uses the
            copy of Cora bundled with glt, or :func:`default_root` for the others.
        download: fetch missing files from ``url`` (the Planetoid authors'
            repository); otherwise a missing file raises ``FileNotFoundError``.
        url: base URL of the ``ind.<name>.*`` files (default: the registry's).
    """
    _check_split(split)  # before any download
    counts = dict(num_train_per_class=num_train_per_class, num_val=num_val,
                  num_test=num_test, seed=seed)
    info = dataset_info(name, source="planetoid")
    key = info.name
    url = info.url if url is None else url
    if root is None and key == "cora":
        data = replace(read_planetoid(bundled_cora_dir(), key), info=info)
        return planetoid_split(data, split, **counts)
    raw_dir = _raw_dir(check_root(root if root is not None else default_root()), key)
    missing = [p for p in RAW_FILES if not os.path.exists(os.path.join(raw_dir, f"ind.{key}.{p}"))]
    if missing and not download:
        raise FileNotFoundError(f"missing Planetoid files in {raw_dir}: "
                                f"{', '.join(f'ind.{key}.{p}' for p in missing)} "
                                f"(pass download=True to fetch them)")
    for file in (f"ind.{key}.{part}" for part in RAW_FILES):
        fetch_file(f"{url}/{file}", os.path.join(raw_dir, file), info.file_record(file), key)
    return planetoid_split(replace(read_planetoid(raw_dir, key), info=info), split, **counts)
