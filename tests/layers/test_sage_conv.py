import pytest
import torch
import torch_geometric.nn as pyg_nn

from glt import CSRGraph
from glt.layers import SAGEConv
from tests.layers.parity import EDGE_INDEX, NUM_NODES, assert_same_outputs_and_grads


@pytest.mark.parametrize("in_channels, out_channels", [(6, 3), (3, 6)])  # both branches
@pytest.mark.parametrize("kwargs", [{}, {"aggr": "max"}, {"aggr": "sum"}, {"normalize": True},
                                    {"root_weight": False}, {"bias": False},
                                    {"project": True}, {"project": True, "aggr": "max"}])
def test_matches_pyg(in_channels, out_channels, kwargs):
    torch.manual_seed(0)
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES)
    x = torch.randn(NUM_NODES, in_channels)
    assert_same_outputs_and_grads(
        SAGEConv(in_channels, out_channels, **kwargs),
        pyg_nn.SAGEConv(in_channels, out_channels, **kwargs),
        lambda m, x: m(x, graph), lambda m, x: m(x, EDGE_INDEX), x)


def test_ignores_edge_weights_like_pyg():
    torch.manual_seed(0)
    conv = SAGEConv(3, 2)
    x = torch.randn(NUM_NODES, 3)
    weighted = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES, torch.rand(EDGE_INDEX.size(1)))
    torch.testing.assert_close(conv(x, weighted), conv(x, EDGE_INDEX))


def test_bad_aggr():
    with pytest.raises(ValueError, match="expected aggr to be 'mean', 'sum' or 'max', got 'lstm'"):
        SAGEConv(3, 2, aggr="lstm")
