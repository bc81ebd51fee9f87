import pytest
import torch

from glt import CSRGraph
from glt.datasets import NodeDataset, row_normalize, sparse_features


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
