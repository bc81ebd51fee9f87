import os

import pytest
import torch

from glt import CSRGraph, _checks
from glt.datasets import NodeDataset, _fields, row_normalize, sparse_features


def test_row_normalize_keeps_zero_rows():
    x = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    assert row_normalize(x).tolist() == [[0.25, 0.75], [0.0, 0.0]]


def test_to_moves_everything(device):
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), 3)
    mask = torch.tensor([True, False, False])
    data = NodeDataset("toy", graph, torch.ones(3, 2), torch.zeros(3, dtype=torch.long), mask,
                       ~mask, mask, 2)
    moved = data.to(device)
    assert moved.x.device.type == device and moved.graph.device.type == device
    assert "toy: nodes=3, edges=2, features=2, classes=2" in repr(moved)


def test_sparse_features_only_below_the_density():
    x = torch.zeros(50, 40)
    x[torch.arange(50), torch.arange(50) % 40] = 1.0  # 2.5% nonzero
    sparse = sparse_features(x)
    assert sparse.layout == torch.sparse_csr and torch.equal(sparse.to_dense(), x)
    assert sparse_features(x, max_density=0.01) is x
    dense = torch.rand(50, 40) + 0.1
    assert sparse_features(dense) is dense
    with pytest.raises(ValueError, match="expected dense float features"):
        sparse_features(torch.ones(5, 4, dtype=torch.long))


def _toy(**change):
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), 4)
    mask = torch.tensor([True, True, False, False])
    fields = dict(name="toy", graph=graph, x=torch.ones(4, 2), y=torch.tensor([0, 1, 2, -1]),
                  train_mask=mask, val_mask=torch.tensor([False, False, True, False]),
                  test_mask=torch.tensor([False, False, False, True]), num_classes=3)
    return NodeDataset(**{**fields, **change})


@pytest.mark.parametrize("change, message", [
    ({"train_mask": torch.tensor([0, 1])}, r"expected train_mask to be a bool \[4\] mask, got "
     r"torch.int64 \(2,\) \(node ids, such as OGB's get_idx_split, become a mask with "
     r"torch.zeros\(4, dtype=torch.bool\).index_fill_\(0, ids, True\)\)"),
    ({"test_mask": torch.ones(3, dtype=torch.bool)}, r"test_mask to be a bool \[4\] mask"),
    ({"y": torch.tensor([0, 1, 3, 0])}, r"expected labels in \[0, 3\) \(-1: unlabelled\), got 3"),
    ({"y": torch.tensor([0, -2, 1, 0])}, r"got -2"),
    ({"y": torch.tensor([0.0, 1.0, 2.0, 0.0])}, "expected y to hold integer class ids"),
    ({"y": torch.zeros(3, dtype=torch.long)}, r"expected y of shape \[4\] \(or \[4, tasks\]\)"),
    ({"y": torch.tensor([-1, 1, 2, 0])}, "1 training nodes have no label"),
    ({"x": torch.ones(3, 2)}, r"expected x of shape \[4, F\], got \(3, 2\)"),
    ({"graph": CSRGraph.from_edge_index(torch.tensor([[0], [1]]), 4, num_cols=5)},
     r"expected graph to be a square CSRGraph, got \(4, 5\)"),
])
def test_bad_fields_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        _toy(**change)


def _with(x, row, value):
    x = x.clone()
    x[row, 1] = value
    return x


@pytest.mark.parametrize("change, message", [
    ({"x": _with(torch.ones(4, 2), 2, float("nan"))}, r"toy: 1 NaN or infinite values in x "
     r"\(the first in row 2\); replace them \(e.g. torch.nan_to_num\) or drop those rows"),
    ({"x": _with(_with(torch.ones(4, 2), 3, float("nan")), 1, float("inf"))},
     r"2 NaN or infinite values in x \(the first in row 1\)"),
    ({"x": _with(_with(torch.zeros(4, 2), 3, float("inf")), 1, -float("inf")).to_sparse_csr()},
     r"2 NaN or infinite values in x \(the first in row 1\)"),
    ({"x": _with(torch.zeros(4, 2), 3, float("nan")).to_sparse()}, r"\(the first in row 3\)"),
    ({"edge_attr": _with(torch.ones(3, 2), 1, float("nan"))},
     r"1 NaN or infinite values in edge_attr .* row 1"),
    ({"edge_attr": torch.ones(4, 2)}, r"expected edge_attr with one row per edge \(\[3, D\]\), "
     r"got \(4, 2\)"),
    # weights set after the graph was built (with_edge_weight checks shapes alone)
    ({"graph": CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), 4)
      .with_edge_weight(torch.tensor([1.0, float("inf"), 2.0]))},
     r"1 NaN or infinite values in edge weights \(the first in row 1\)"),
])
@pytest.mark.parametrize("block", [1 << 24, 1, 3])  # scanned at once, or in blocks of rows
def test_non_finite_features_and_weights_are_refused(change, message, block, monkeypatch):
    monkeypatch.setattr(_checks, "_BLOCK", block)
    with pytest.raises(ValueError, match=message):
        _toy(**change)
    _toy(x=torch.zeros(4, 0), edge_attr=torch.ones(3))  # no features; one value per edge
    _toy(x=torch.full((4, 2), 1e308, dtype=torch.float64))  # finite, though their sum is not


def test_a_move_reads_no_feature_again(monkeypatch):
    data = _toy()
    monkeypatch.setattr(_fields, "check_finite", None)  # a call would fail
    assert torch.equal(data.to("cpu").x, data.x)


def test_a_shared_split_is_warned_and_unlabelled_evaluation_nodes_are_kept():
    data = _toy()  # the test node is unlabelled: allowed (OGB's papers100M has many)
    assert int(data.test_mask.sum()) == 1
    with pytest.warns(UserWarning, match="toy: 1 training nodes are also validation or test"):
        _toy(test_mask=torch.tensor([True, False, False, True]))
    moved = data.to("cpu")  # a copy, not checked (nor warned about) again
    assert torch.equal(moved.y, data.y) and moved is not data
    moved.x = None
    assert data.x is not None


@pytest.mark.parametrize("sparse", [False, True])
def test_from_pyg_equals_glts_reader_on_the_real_cora_files(shared_data, tmp_path, sparse):
    import shutil

    import torch_geometric.transforms as T
    from torch_geometric.datasets import Planetoid

    from glt.datasets import load_planetoid
    shutil.copytree(os.path.join(shared_data, "planetoid"), tmp_path / "Cora" / "raw")
    # as OGB's examples load it: edge_index replaced by a sparse adj_t
    transform = T.ToSparseTensor(layout=torch.sparse_csr) if sparse else None
    pyg = Planetoid(str(tmp_path), "Cora", transform=transform)
    assert ("adj_t" in pyg[0]) == sparse and ("edge_index" in pyg[0]) != sparse
    ours, expected = NodeDataset.from_pyg(pyg[0], "cora"), load_planetoid("cora")
    assert ours.num_classes == pyg.num_classes == expected.num_classes
    for field in ("x", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(ours, field), getattr(expected, field)), field
    assert sorted(map(tuple, ours.graph.edge_index().t().tolist())) == \
        sorted(map(tuple, expected.graph.edge_index().t().tolist()))


@pytest.mark.parametrize("sparse", [False, True])
def test_to_pyg_is_what_pygs_planetoid_gives(tmp_path, sparse):
    """The bundled Cora files (the real release) through glt, then to_pyg: the
    Data PyG's Planetoid builds from the same files; from_pyg reads it back."""
    import shutil

    from torch_geometric.datasets import Planetoid

    from glt.datasets import load_planetoid
    from glt.datasets.planetoid import bundled_cora_dir
    ours = load_planetoid("cora")
    if sparse:
        ours.x = sparse_features(ours.x)
        assert ours.x.layout == torch.sparse_csr
    data = ours.to_pyg()
    shutil.copytree(bundled_cora_dir(), tmp_path / "Cora" / "raw")
    ref = Planetoid(str(tmp_path), "Cora")[0]
    assert data.num_nodes == ref.num_nodes and data.validate()
    for key in ("x", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(data[key], ref[key]), key
    assert sorted(map(tuple, data.edge_index.t().tolist())) == \
        sorted(map(tuple, ref.edge_index.t().tolist()))
    back = NodeDataset.from_pyg(data, "cora")
    assert torch.equal(back.graph.edge_index(), ours.graph.edge_index())
    assert torch.equal(back.test_mask, ours.test_mask) and back.num_classes == 7


def test_to_pyg_carries_weights_edge_and_node_attributes():
    graph = CSRGraph.from_edge_index(torch.tensor([[2, 0, 1], [3, 1, 2]]), 4,
                                     edge_weight=torch.tensor([0.5, 1.0, 2.0]))
    edge_attr = torch.arange(6.0).view(3, 2)  # CSR order: edges from 0, 1, 2
    data = _toy(graph=graph, edge_attr=edge_attr,
                node_attr={"node_year": torch.tensor([1990, 2001, 2010, 2015])}).to_pyg()
    assert data.edge_index.tolist() == [[0, 1, 2], [1, 2, 3]]
    assert data.edge_weight.tolist() == [1.0, 2.0, 0.5]
    assert torch.equal(data.edge_attr, edge_attr)
    assert data.node_year.tolist() == [1990, 2001, 2010, 2015]
    with pytest.raises(ValueError, match=r"toy: expected a square graph, got \(4, 5\)"):
        NodeDataset.to_pyg(type("Rect", (), {"name": "toy", "graph": CSRGraph.from_edge_index(
            torch.tensor([[0], [4]]), 4, num_cols=5)})())


def test_from_pyg_takes_ogbs_labels_and_split_ids_and_one_of_several_splits():
    from torch_geometric.data import Data
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    data = Data(edge_index=edge_index, x=torch.ones(4, 3), y=torch.tensor([[2], [0], [1], [0]]))
    ours = NodeDataset.from_pyg(data, "ogb-like", split_idx={
        "train": torch.tensor([0, 1]), "valid": torch.tensor([2]), "test": torch.tensor([3])})
    assert ours.y.tolist() == [2, 0, 1, 0] and ours.num_classes == 3
    assert ours.train_mask.tolist() == [True, True, False, False]
    assert ours.test_mask.tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="the Data has no train_mask, val_mask, test_mask; "
                       "pass split_idx"):
        NodeDataset.from_pyg(data)
    several = torch.tensor([[True, False], [True, True], [False, True], [False, False]])
    data.train_mask, data.val_mask = several, ~several  # WikiCS: 2-D train / val, 1-D test
    data.test_mask = torch.tensor([False, False, False, True])
    data.val_mask[3] = False
    second = NodeDataset.from_pyg(data, split=1)
    assert second.train_mask.tolist() == [False, True, True, False]
    assert second.val_mask.tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match=r"masks hold 2 splits \(one per column\); expected "
                       r"split in \[0, 2\), got None"):
        NodeDataset.from_pyg(data)
    with pytest.raises(ValueError, match=r"got 2$"):
        NodeDataset.from_pyg(data, split=2)
