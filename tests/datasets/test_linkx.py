import os

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
import torch
from torch_geometric.utils import to_undirected

import glt.datasets._fields as glt_fields
from glt.datasets.linkx import load_snap_patents, quantile_labels
from glt.datasets.testing import write_snap_patents
from glt.graph import CSRGraph


@pytest.fixture
def mat(tmp_path) -> str:
    path = os.path.join(str(tmp_path), "snap-patents", "snap_patents.mat")
    write_snap_patents(path, num_nodes=80, num_edges=300, seed=2)
    return path


def test_labels_are_year_quantiles(mat, tmp_path):
    data = load_snap_patents(str(tmp_path), download=False)
    years = scipy.io.loadmat(mat)["years"].reshape(-1).astype(float)
    thresholds = np.quantile(years, [0.2, 0.4, 0.6, 0.8])
    expected = (years[:, None] >= thresholds[None, :]).sum(1)  # thresholds passed = class
    assert np.array_equal(data.y.numpy(), expected)
    assert data.num_classes == 5 and data.y.max() == 4


def test_quantile_labels_are_balanced():
    labels = quantile_labels(np.arange(1000, dtype=float), 5)
    assert np.array_equal(np.bincount(labels), [200] * 5)


def test_graph_and_features_equal_the_file(mat, tmp_path):
    raw = scipy.io.loadmat(mat)
    edge_index = torch.from_numpy(raw["edge_index"].astype(np.int64))
    undirected = load_snap_patents(str(tmp_path), download=False)
    ref = CSRGraph.from_edge_index(to_undirected(edge_index, num_nodes=80), 80)
    assert torch.equal(undirected.graph.rowptr, ref.rowptr)
    assert torch.equal(undirected.graph.col, ref.col)
    directed = load_snap_patents(str(tmp_path), download=False, undirected=False)
    ref = CSRGraph.from_edge_index(edge_index, 80)
    assert torch.equal(directed.graph.col, ref.col)
    assert np.array_equal(directed.x.numpy(), raw["node_feat"].toarray().astype(np.float32))


def test_cached_load_does_not_read_the_features_again(mat, tmp_path, monkeypatch):
    first = load_snap_patents(str(tmp_path), download=False)

    def fail(values):
        raise AssertionError("features read again")
    monkeypatch.setattr(glt_fields, "count_nonfinite", fail)
    assert torch.equal(load_snap_patents(str(tmp_path), download=False).x, first.x)


def test_split_is_seeded_50_25_25(mat, tmp_path):
    a = load_snap_patents(str(tmp_path), download=False, seed=1)
    b = load_snap_patents(str(tmp_path), download=False, seed=1)
    c = load_snap_patents(str(tmp_path), download=False, seed=2)
    assert (a.train_mask.sum(), a.val_mask.sum(), a.test_mask.sum()) == (40, 20, 20)
    assert not (a.train_mask & a.val_mask).any() and not (a.val_mask & a.test_mask).any()
    assert bool((a.train_mask | a.val_mask | a.test_mask).all())
    assert torch.equal(a.train_mask, b.train_mask)
    assert not torch.equal(a.train_mask, c.train_mask)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="snap_patents.mat; pass download=True"):
        load_snap_patents(str(tmp_path), download=False)
    path = tmp_path / "snap-patents" / "snap_patents.mat"
    path.parent.mkdir()
    path.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(ValueError, match="snap_patents.mat: not a version-5 MAT-file .*"
                       "Delete it and load again"):
        load_snap_patents(str(tmp_path), download=False)
    scipy.io.savemat(str(path), {"edge_index": np.array([[0, 1], [1, 7]]),
                                 "node_feat": np.ones((3, 2)), "num_nodes": 3,
                                 "years": np.array([[1990, 1991, 1992]])})
    with pytest.raises(ValueError, match=r"\[edge_index\]: id 7 is outside \[0, 3\)"):
        load_snap_patents(str(tmp_path), download=False)
    for count, message in ((-3, r"\[num_nodes\]: expected a non-negative integer count"),
                           (2.5, r"\[num_nodes\]: expected a non-negative integer count"),
                           ("x", r"variable 'num_nodes' has array class 4; only numeric")):
        scipy.io.savemat(str(path), {"edge_index": np.array([[0, 1], [1, 2]]),
                                     "node_feat": np.ones((3, 2)), "num_nodes": count,
                                     "years": np.array([[1990, 1991, 1992]])})
        with pytest.raises(ValueError, match=message):
            load_snap_patents(str(tmp_path), download=False)
    scipy.io.savemat(str(path), {"edge_index": np.array([[0], [1]])})
    with pytest.raises(ValueError, match="missing .*'node_feat'"):
        load_snap_patents(str(tmp_path), download=False)
    years = np.array([[1990, 1991, 1992]])
    for given, message in (
            ({"edge_index": sp.csc_matrix(np.array([[0, 1], [1, 2]]))},
             r"\[edge_index\]: expected a dense matrix, got a sparse one"),
            ({"node_feat": np.ones((3, 2, 2))}, r"\[node_feat\]: expected \[N, F\], got shape"),
            # a flipped bit made a feature NaN (found by the fuzz test): named with the file
            ({"node_feat": np.array([[1.0, 0.0], [0.0, np.nan], [1.0, np.inf]])},
             r"\[node_feat\]: 2 NaN or infinite values \(the first in row 1\); the file looks "
             r"corrupt")):
        scipy.io.savemat(str(path), {"edge_index": np.array([[0, 1], [1, 2]]),
                                     "node_feat": np.ones((3, 2)), "num_nodes": 3,
                                     "years": years, **given})
        with pytest.raises(ValueError, match="snap_patents.mat " + message):
            load_snap_patents(str(tmp_path), download=False)
