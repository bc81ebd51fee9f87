"""Writers of tiny but valid datasets in the real on-disk formats, so the real
loaders (and PyG's) can be tested offline end to end."""
from __future__ import annotations

import os
import pickle
from collections import defaultdict
from typing import Union

import numpy as np


def write_planetoid(raw_dir: str, name: str, num_classes: int = 3, num_features: int = 8,
                    num_allx: int = 520, num_test: int = 12, missing_test: int = 0,
                    seed: int = 0) -> None:
    """Write ``ind.<name>.{x,y,allx,ally,tx,ty,graph,test.index}`` in the
    Planetoid format (pickled SciPy CSR features, one-hot NumPy labels, an
    adjacency dict, as Python 2 pickled them; an unsorted test index).

    ``num_allx`` must leave room for the 500 validation nodes of the public split.
    ``missing_test`` ids inside the test range get no row in ``tx``/``ty``, as
    CiteSeer's isolated test nodes. The graph holds a self-loop and a
    duplicated neighbour, as the real files do. Features are binary, but
    PubMed's are TF-IDF weights, some above 1, as in the real files.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    os.makedirs(raw_dir, exist_ok=True)
    num_train = 2 * num_classes
    span = num_test + missing_test
    test_ids = np.arange(num_allx, num_allx + span)
    if missing_test:
        drop = rng.choice(np.arange(1, span - 1), size=missing_test, replace=False)
        test_ids = np.delete(test_ids, drop)
    rng.shuffle(test_ids)

    key = name.lower()

    def features(n: int) -> "sp.csr_matrix":
        present = rng.random((n, num_features)) < 0.3
        if key != "pubmed":  # Cora, CiteSeer: binary bag of words
            return sp.csr_matrix(present.astype(np.float32))
        # PubMed: TF-IDF weights, mostly small, some above 1 (ind.pubmed.tx: 1.2633097)
        return sp.csr_matrix((present * rng.uniform(0.0, 0.3, present.shape)).astype(np.float32))

    def onehot(n: int) -> np.ndarray:
        return np.eye(num_classes, dtype=np.int32)[rng.integers(0, num_classes, n)]

    allx, ally = features(num_allx), onehot(num_allx)
    tx = features(len(test_ids))
    if key == "pubmed":  # node 0 (which has neighbours) and a test node: weights above 1
        for part in (allx, tx):
            part.data[:1] = np.float32(1.2633097)
    arrays = {"x": allx[:num_train], "y": ally[:num_train], "allx": allx, "ally": ally,
              "tx": tx, "ty": onehot(len(test_ids))}
    total = num_allx + span
    graph: dict[int, list[int]] = defaultdict(list)
    for _ in range(3 * total):
        u, v = (int(a) for a in rng.integers(0, total, 2))
        graph[u].append(v)
        graph[v].append(u)
    graph[0].extend([0, 1, 1])  # a self-loop and a duplicate
    arrays["graph"] = graph
    for part, obj in arrays.items():
        with open(os.path.join(raw_dir, f"ind.{key}.{part}"), "wb") as f:
            _Python2Pickler(f, protocol=2).dump(obj)
    np.savetxt(os.path.join(raw_dir, f"ind.{key}.test.index"), test_ids, fmt="%d")


class _Python2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Protocol-2 pickles as Python 2 wrote the Planetoid files: byte and text
    strings as Python 2's ``str`` (``BINSTRING``, not ``_codecs.encode`` calls
    or unicode), NumPy dtypes' flags as integers, and the module paths of the
    NumPy and SciPy of that time (``numpy.core.multiarray``, ``scipy.sparse.csr``)."""

    OLD_MODULES = {"numpy._core.multiarray": "numpy.core.multiarray",
                   "numpy.core.multiarray": "numpy.core.multiarray",
                   "scipy.sparse._csr": "scipy.sparse.csr"}
    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_bytes(self, obj: Union[bytes, str]) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        size = len(data)
        self.write(pickle.SHORT_BINSTRING + bytes([size]) + data if size < 256
                   else pickle.BINSTRING + size.to_bytes(4, "little") + data)
        self.memoize(obj)

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, np.dtype):  # its (align, copy) flags as the integers they were
            func, args, *state = obj.__reduce__()
            return (func, (args[0], int(args[1]), int(args[2])), *state)
        return NotImplemented

    def save_global(self, obj: object, name: object = None) -> None:
        module = getattr(obj, "__module__", None)
        if module not in self.OLD_MODULES:
            return super().save_global(obj, name)
        qualname = name or obj.__qualname__  # type: ignore[attr-defined]
        self.write(pickle.GLOBAL + f"{self.OLD_MODULES[module]}\n{qualname}\n".encode())
        self.memoize(obj)

    dispatch.update({bytes: save_bytes, str: save_bytes})


def _write_csv(path: str, array: np.ndarray, float_format: str = "%.6g") -> None:
    """Headerless gzip CSV, as OGB ships its files."""
    import pandas as pd
    os.makedirs(os.path.dirname(path), exist_ok=True)
    frame = pd.DataFrame(array.reshape(array.shape[0], -1))
    frame.to_csv(path, header=False, index=False, float_format=float_format,
                 compression={"method": "gzip", "compresslevel": 1})


def write_ogb(root: str, name: str, num_nodes: int = 60, num_edges: int = 240,
              num_features: int = 5, seed: int = 0) -> str:
    """Write a small random but valid release of the registered OGB set ``name``
    in OGB's layout under ``<root>/<name with _>/`` and return that folder.

    Files are those of the real release: ``raw/*.csv.gz`` (or ``raw/data.npz`` +
    ``raw/node-label.npz`` for a binary set), the set's extra node / edge files,
    ``split/<split>/{train,valid,test}.csv.gz`` (node sets) or ``.pt`` (link
    sets, with ``edge_neg`` for valid/test; ogbl-citation2's ``source_node`` /
    ``target_node``, and 20 ``target_node_neg`` a source for valid/test where its
    release has 1,000), and ``RELEASE_v<version>.txt``.
    Labels of a binary set have NaN for unlabelled nodes, as papers100M's.
    ogbl-ppa's node features are one-hot integers (``node_feat_dtype`` in the
    registry), as its release stores them and OGB's example casts them to float.

    Checked against a real release (ogbl-ddi, ``../shared/data/ogb``): the file
    names under ``raw/`` and ``split/target/``, headerless integer ``.csv.gz``
    files, and link splits in torch's legacy serialisation holding dicts of
    int64 NumPy arrays (``edge`` ``[M, 2]``, ``edge_neg``), as OGB ships them.
    Not yet checked against a real release (none is available offline), only
    against OGB's loader source and ``master.csv``: the node sets' files
    (``node-feat`` floats, ``node-label``, ``split/<name>/*.csv.gz`` index files,
    ``node_year``), ogbl-collab's ``edge_weight`` / ``edge_year`` and its split's
    ``weight`` / ``year`` arrays, ogbl-citation2's split (int64 NumPy arrays
    assumed, as ddi's), and the binary ``data.npz`` /
    ``node-label.npz`` of ogbn-papers100M.
    """
    import torch

    from glt.datasets.registry import dataset_info

    info = dataset_info(name, source="ogb")
    extra = info.extra
    rng = np.random.default_rng(seed)
    path = os.path.join(root, info.name.replace("-", "_"))
    raw = os.path.join(path, "raw")
    split = os.path.join(path, "split", info.split)
    os.makedirs(raw, exist_ok=True)
    os.makedirs(split, exist_ok=True)
    edge = rng.integers(0, num_nodes, (num_edges, 2))
    x = rng.standard_normal((num_nodes, num_features)).astype(np.float32)
    if extra.get("node_feat_dtype") == "int64":  # ogbl-ppa: one-hot species as integers
        x = np.eye(num_features, dtype=np.int64)[rng.integers(0, num_features, num_nodes)]
    num_tasks = int(extra.get("num_tasks", 1))
    if num_tasks > 1:
        labels = rng.integers(0, 2, (num_nodes, num_tasks))
    else:
        labels = rng.integers(0, int(info.num_classes or 2), (num_nodes, 1))
    node_extra = {f: rng.integers(1990, 2020, (num_nodes, 1)) for f in extra["node_files"]}
    if extra["binary"]:
        arrays = {"edge_index": edge.T.copy(), "num_nodes_list": np.array([num_nodes]),
                  "num_edges_list": np.array([num_edges])}
        if extra["has_node_attr"]:
            arrays["node_feat"] = x
        arrays.update(node_extra)
        np.savez_compressed(os.path.join(raw, "data.npz"), **arrays)
        float_labels = labels.astype(np.float64)
        unlabelled = rng.random(num_nodes) < 0.3
        float_labels[unlabelled] = np.nan
        np.savez_compressed(os.path.join(raw, "node-label.npz"), node_label=float_labels)
    else:
        _write_csv(os.path.join(raw, "edge.csv.gz"), edge)
        _write_csv(os.path.join(raw, "num-node-list.csv.gz"), np.array([num_nodes]))
        _write_csv(os.path.join(raw, "num-edge-list.csv.gz"), np.array([num_edges]))
        if extra["has_node_attr"]:
            _write_csv(os.path.join(raw, "node-feat.csv.gz"), x)
        if extra["has_edge_attr"]:
            _write_csv(os.path.join(raw, "edge-feat.csv.gz"),
                       rng.random((num_edges, 8)).astype(np.float32))
        for f, values in node_extra.items():
            _write_csv(os.path.join(raw, f"{f}.csv.gz"), values)
        for f in extra["edge_files"]:
            _write_csv(os.path.join(raw, f"{f}.csv.gz"), rng.integers(1, 5, (num_edges, 1)))
        if info.task == "node":
            _write_csv(os.path.join(raw, "node-label.csv.gz"), labels)
    if info.task == "node":  # the splits hold labelled nodes only
        order = rng.permutation(num_nodes)
        if extra["binary"]:
            order = order[~unlabelled[order]]
        cut = [order.size // 2, 3 * order.size // 4]
        for s, idx in zip(("train", "valid", "test"), np.split(order, cut)):
            _write_csv(os.path.join(split, f"{s}.csv.gz"), idx)
    else:
        for s in ("train", "valid", "test"):  # as OGB ships them: NumPy arrays, legacy format
            m = max(2, num_edges // 10)
            if info.metric == "mrr":  # ogbl-citation2: sources, targets, negative targets
                pairs = rng.integers(0, num_nodes, (m, 2))
                part = {"source_node": pairs[:, 0], "target_node": pairs[:, 1]}
                if s != "train":
                    part["target_node_neg"] = rng.integers(0, num_nodes, (m, 20))
            else:
                part = {"edge": rng.integers(0, num_nodes, (m, 2))}
                if s != "train":
                    part["edge_neg"] = rng.integers(0, num_nodes, (m, 2))
            if "edge_weight" in extra["edge_files"]:
                part["weight"] = rng.integers(1, 5, m)
                part["year"] = rng.integers(2000, 2020, m)
            torch.save(part, os.path.join(split, f"{s}.pt"), _use_new_zipfile_serialization=False)
    with open(os.path.join(path, f"RELEASE_v{info.version}.txt"), "w") as f:
        f.write(f"# Release note for {info.name}\n\n### v{info.version}: fixture\n")
    return path


def write_lightgcn(directory: str, num_users: int = 30, num_items: int = 40,
                   per_user: int = 6, empty_test_users: tuple[int, ...] = (),
                   seed: int = 0) -> None:
    """Write ``train.txt`` / ``test.txt`` in the LightGCN format: each user gets
    ``per_user`` distinct items, a third of them (at least one) held out for test.
    Users in ``empty_test_users`` get a test line with no item (as amazon-book's
    test file has); train lines end with a space, as LightGCN's files do."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    train_lines, test_lines = [], []
    for u in range(num_users):
        items = rng.choice(num_items, size=per_user, replace=False)
        held = 0 if u in empty_test_users else max(1, per_user // 3)
        train_lines.append(f"{u} " + " ".join(map(str, items[held:])) + " ")
        test_lines.append(" ".join(map(str, [u, *items[:held]])))
    for name, lines in (("train.txt", train_lines), ("test.txt", test_lines)):
        with open(os.path.join(directory, name), "w") as f:
            f.write("\n".join(lines) + "\n")


def write_snap_patents(path: str, num_nodes: int = 50, num_edges: int = 200,
                       num_features: int = 7, seed: int = 0) -> None:
    """Write a small ``snap_patents.mat`` in LINKX's layout (sparse ``node_feat``,
    ``edge_index [2, E]``, ``num_nodes``, ``years [1, N]``)."""
    import scipy.io
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    feat = sp.csr_matrix((rng.random((num_nodes, num_features)) < 0.3).astype(np.float64))
    scipy.io.savemat(path, {"edge_index": rng.integers(0, num_nodes, (2, num_edges)),
                            "node_feat": feat, "num_nodes": np.array([[num_nodes]]),
                            "years": rng.integers(1963, 2000, (1, num_nodes))})
