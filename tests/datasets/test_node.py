import torch

from glt import CSRGraph
from glt.datasets import NodeDataset, row_normalize


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
