"""snap-patents in the LINKX ``.mat`` format (Lim et al., 2021), LargeGT's second benchmark.

``snap_patents.mat`` holds ``edge_index [2, E]``, a sparse ``node_feat [N, F]``,
``num_nodes`` and ``years [N]``. Labels are the grant year cut into 5 classes of
equal size at its quantiles, as LINKX's ``even_quantile_labels``; the split is
a seeded random 50 / 25 / 25 of the labelled nodes. The processed arrays are
cached as memory-mapped files next to the ``.mat``.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
import scipy.sparse
import torch

from glt.datasets._cache import CacheWriter, fingerprint, load_cache
from glt.datasets._csr import check_csr, check_ids, graph_count, write_csr
from glt.datasets._download import fetch_file
from glt.datasets._fields import check_file_finite, vouched_finite
from glt.datasets._layout import check_root
from glt.datasets._matfile import read_mat
from glt.datasets.node import NodeDataset
from glt.datasets.planetoid import default_root
from glt.datasets.registry import dataset_info
from glt.graph import CSRGraph


_VARIABLES = ("edge_index", "node_feat", "num_nodes", "years")


def quantile_labels(values: np.ndarray, num_classes: int) -> np.ndarray:
    """Class ``k`` for values in the ``k``-th of ``num_classes`` quantile bins
    (NaN-aware bounds; values above the last bound go to the last class)."""
    labels = np.full(values.shape[0], -1, np.int64)
    lower = -np.inf
    for k in range(num_classes - 1):
        upper = np.nanquantile(values, (k + 1) / num_classes)
        labels[(values >= lower) & (values < upper)] = k
        lower = upper
    labels[values >= lower] = num_classes - 1
    return labels


def random_split(labels: torch.Tensor, train: float, valid: float, seed: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded random train / valid / test masks over the nodes with a label (``>= 0``)."""
    labelled = (labels >= 0).nonzero().view(-1)
    gen = torch.Generator().manual_seed(seed)
    order = labelled[torch.randperm(labelled.numel(), generator=gen)]
    n_train, n_valid = int(train * order.numel()), int(valid * order.numel())
    masks = []
    for idx in (order[:n_train], order[n_train:n_train + n_valid], order[n_train + n_valid:]):
        m = torch.zeros(labels.numel(), dtype=torch.bool)
        m[idx] = True
        masks.append(m)
    return masks[0], masks[1], masks[2]


def _check(arrays: dict[str, np.ndarray]) -> None:
    """The cached graph is a valid CSR with one label and year per node."""
    num_nodes = arrays["rowptr"].shape[0] - 1
    check_csr(arrays["rowptr"], arrays["col"], num_nodes)
    for name in ("y", "x", "node.year"):
        if name in arrays and arrays[name].shape[0] != num_nodes:
            raise ValueError(f"{name} has {arrays[name].shape[0]} rows, expected {num_nodes}")


def _process(mat_path: str, writer: CacheWriter, num_classes: int, undirected: bool) -> None:
    try:
        data = read_mat(mat_path, _VARIABLES)
    except ValueError as err:
        raise ValueError(f"{err}. Delete it and load again to re-download it") from err
    missing = set(_VARIABLES) - data.keys()
    if missing:
        raise ValueError(f"{mat_path}: missing {sorted(missing)}; expected LINKX's "
                         f"snap_patents.mat layout")
    for name in ("edge_index", "num_nodes", "years"):
        if scipy.sparse.issparse(data[name]):
            raise ValueError(f"{mat_path} [{name}]: expected a dense matrix, got a sparse one")
    num_nodes = graph_count(np.asarray(data["num_nodes"]), f"{mat_path} [num_nodes]")
    edge_index = np.asarray(data["edge_index"], dtype=np.int64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{mat_path}: expected edge_index of shape [2, E], got "
                         f"{edge_index.shape}")
    src, dst = edge_index
    if undirected:  # both directions, duplicates and self-loops kept once, as PyG's to_undirected
        check_ids(edge_index, num_nodes, f"{mat_path} [edge_index]")
        key = np.unique(np.concatenate([src * num_nodes + dst, dst * num_nodes + src]))
        src, dst = key // num_nodes, key % num_nodes
    write_csr(writer, src, dst, num_nodes, False, False, f"{mat_path} [edge_index]")
    feat = data["node_feat"]
    x = np.asarray(feat.toarray() if scipy.sparse.issparse(feat) else feat, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{mat_path} [node_feat]: expected [N, F], got shape {x.shape}")
    check_file_finite(torch.from_numpy(x), f"{mat_path} [node_feat]:")  # LINKX's are 0 / 1
    years = np.asarray(data["years"], dtype=np.float64).reshape(-1)
    for what, rows in (("node_feat", x.shape[0]), ("years", years.shape[0])):
        if rows != num_nodes:
            raise ValueError(f"{mat_path} [{what}]: expected {num_nodes} rows, got {rows}")
    writer.save("x", x)
    writer.save("y", quantile_labels(years, num_classes))
    writer.save("node.year", years)


def load_snap_patents(root: Optional[str] = None, download: bool = True, undirected: bool = True,
                      seed: int = 0) -> NodeDataset:
    """Load snap-patents with 5 year-quantile classes and a seeded 50/25/25 split.

    Args:
        root: data folder (default :func:`default_root`); the file is
            ``<root>/snap-patents/snap_patents.mat``.
        download: fetch a missing file from LINKX's URL; otherwise raise ``FileNotFoundError``.
        undirected: add reverse edges and drop repeats (LINKX's default), or keep
            the citation direction.
        seed: seed of the random split.
    """
    info = dataset_info("snap-patents", source="linkx")
    folder = os.path.join(check_root(root if root is not None else default_root()), info.name)
    mat_path = os.path.join(folder, info.extra["file"])
    if not download and not os.path.exists(mat_path):
        raise FileNotFoundError(f"missing {mat_path}; pass download=True to fetch it "
                                f"from {info.url}")
    fetch_file(info.url, mat_path, info.file_record(info.extra["file"]), info.name)
    source = fingerprint(folder, [mat_path])
    kind = "undirected" if undirected else "directed"
    cache_dir = os.path.join(folder, f"glt_processed_{kind}")
    cached = load_cache(cache_dir, source, _check)
    if cached is None:
        with CacheWriter(cache_dir, source, record_finite=True) as writer:
            _process(mat_path, writer, int(info.num_classes), undirected)
        cached = load_cache(cache_dir, source, _check)
        if cached is None:
            raise RuntimeError(f"the cache just written to {cache_dir} could not be read back")
    arrays, _, finite = cached
    t = {k: torch.from_numpy(v) for k, v in arrays.items()}
    graph = CSRGraph(t["rowptr"], t["col"], validate=False)  # checked by _check at the load
    train, valid, test = random_split(t["y"], 0.5, 0.25, seed)
    with vouched_finite(*(t[k] for k in finite)):  # found finite when the cache was built
        return NodeDataset(info.name, graph, t["x"], t["y"], train, valid, test,
                           int(info.num_classes), info, {"year": t["node.year"]})
