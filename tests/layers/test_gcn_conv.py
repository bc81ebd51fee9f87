import pytest
import torch
import torch_geometric.nn as pyg_nn

from glt import CSRGraph
from glt.layers import GCNConv
from tests.layers.parity import EDGE_INDEX, NUM_NODES, assert_same_outputs_and_grads


@pytest.mark.parametrize("kwargs", [{}, {"improved": True}, {"add_self_loops": False},
                                    {"normalize": False}, {"bias": False}])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_pyg(kwargs, weighted):
    if kwargs.get("improved") and not weighted:
        pytest.skip("PyG ignores improved=True without edge weights (see tests/test_norm.py)")
    torch.manual_seed(0)
    weight = torch.rand(EDGE_INDEX.size(1)) + 0.1 if weighted else None
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES, weight)
    x = torch.randn(NUM_NODES, 5)
    assert_same_outputs_and_grads(
        GCNConv(5, 4, **kwargs), pyg_nn.GCNConv(5, 4, **kwargs),
        lambda m, x: m(x, graph), lambda m, x: m(x, EDGE_INDEX, weight), x)


def test_accepts_edge_index_and_weight_like_pyg():
    torch.manual_seed(0)
    conv = GCNConv(3, 2)
    x, weight = torch.randn(NUM_NODES, 3), torch.rand(EDGE_INDEX.size(1))
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES, weight)
    torch.testing.assert_close(conv(x, EDGE_INDEX, weight), conv(x, graph))
    with pytest.raises(ValueError, match="expected edge_weight to be None with a CSRGraph"):
        conv(x, graph, weight)
    with pytest.raises(ValueError, match="expected a graph over the 5 rows of x"):
        conv(torch.randn(5, 3), graph)


def test_cached_keeps_the_first_graph_like_pyg():
    torch.manual_seed(0)
    ours, theirs = GCNConv(3, 2, cached=True), pyg_nn.GCNConv(3, 2, cached=True)
    other = EDGE_INDEX[:, :4]
    for edge_index in (EDGE_INDEX, other):  # the second call reuses the first graph
        assert_same_outputs_and_grads(ours, theirs, lambda m, x: m(x, edge_index),
                                      lambda m, x: m(x, edge_index), torch.randn(NUM_NODES, 3))
    fresh = GCNConv(3, 2)
    fresh.load_state_dict(ours.state_dict())
    x = torch.randn(NUM_NODES, 3)
    torch.testing.assert_close(ours(x, other), fresh(x, EDGE_INDEX))
    ours.reset_parameters()  # forgets the graph, as PyG's does
    assert ours._cached_adj is None


def test_runs_on_device(device):
    conv = GCNConv(3, 2).to(device)
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES).to(device)
    assert conv(torch.randn(NUM_NODES, 3, device=device), graph).shape == (NUM_NODES, 2)
