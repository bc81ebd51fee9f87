import pytest
import torch
import torch_geometric.nn as pyg_nn

from glt import CSRGraph
from glt.layers import GATConv
from tests.layers.parity import EDGE_INDEX, NUM_NODES, assert_same_outputs_and_grads


@pytest.mark.parametrize("kwargs", [{"heads": 1}, {"heads": 3}, {"heads": 3, "concat": False},
                                    {"heads": 2, "add_self_loops": False},
                                    {"heads": 2, "negative_slope": 0.1, "bias": False},
                                    {"heads": 2, "residual": True},
                                    {"heads": 2, "concat": False, "residual": True}])
def test_matches_pyg(kwargs, code_path):
    torch.manual_seed(0)
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES)
    ours, theirs = GATConv(5, 4, **kwargs).eval(), pyg_nn.GATConv(5, 4, **kwargs).eval()
    assert_same_outputs_and_grads(ours, theirs, lambda m, x: m(x, graph),
                                  lambda m, x: m(x, EDGE_INDEX), torch.randn(NUM_NODES, 5))


def test_attention_weights_match_pyg_per_edge():
    torch.manual_seed(0)
    ours, theirs = GATConv(5, 4, heads=2).eval(), pyg_nn.GATConv(5, 4, heads=2).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(NUM_NODES, 5)
    _, (ei1, a1) = ours(x, EDGE_INDEX, return_attention_weights=True)
    _, (ei2, a2) = theirs(x, EDGE_INDEX, return_attention_weights=True)

    def by_edge(ei, a):  # duplicate edges share their attention value
        return {tuple(e): tuple(round(v, 5) for v in w)
                for e, w in zip(ei.t().tolist(), a.tolist())}
    assert by_edge(ei1, a1) == by_edge(ei2, a2)
    sums = torch.zeros(NUM_NODES, 2).index_add_(0, ei1[1], a1)
    torch.testing.assert_close(sums, torch.ones(NUM_NODES, 2))  # every node attends to itself


def test_attention_dropout_only_in_training():
    torch.manual_seed(0)
    conv = GATConv(5, 4, heads=2, dropout=0.5)
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES)
    x = torch.randn(NUM_NODES, 5)
    conv.eval()
    torch.testing.assert_close(conv(x, graph), conv(x, graph))
    conv.train()
    assert not torch.allclose(conv(x, graph), conv(x, graph))


@pytest.mark.parametrize("kwargs", [{"heads": 2}, {"heads": 1, "fill_value": 0.5},
                                    {"heads": 2, "fill_value": "add", "concat": False},
                                    {"heads": 2, "fill_value": "max"},
                                    {"heads": 2, "fill_value": torch.tensor([1.0, -1.0, 2.0])},
                                    {"heads": 2, "add_self_loops": False}])
def test_edge_features_match_pyg(kwargs):
    torch.manual_seed(0)
    attr = torch.randn(EDGE_INDEX.size(1), 3)
    ours = GATConv(5, 4, edge_dim=3, **kwargs).eval()
    theirs = pyg_nn.GATConv(5, 4, edge_dim=3, **kwargs).eval()
    mine, their = attr.clone().requires_grad_(), attr.clone().requires_grad_()
    assert_same_outputs_and_grads(ours, theirs, lambda m, x: m(x, EDGE_INDEX, mine),
                                  lambda m, x: m(x, EDGE_INDEX, their), torch.randn(NUM_NODES, 5))
    torch.testing.assert_close(mine.grad, their.grad)
    graph = CSRGraph.from_edge_index(EDGE_INDEX, NUM_NODES)  # a CSRGraph's are in CSR order
    x = torch.randn(NUM_NODES, 5)
    torch.testing.assert_close(ours(x, graph, attr[graph.edge_id]), theirs(x, EDGE_INDEX, attr))


def test_edge_features_are_checked():
    conv, x = GATConv(5, 4, edge_dim=3), torch.randn(NUM_NODES, 5)
    with pytest.raises(ValueError, match="expected edge_attr exactly when the layer has edge_dim"):
        conv(x, EDGE_INDEX)
    with pytest.raises(ValueError, match=r"expected edge_attr of shape \[12, 3\], got \(12, 2\)"):
        conv(x, EDGE_INDEX, torch.randn(12, 2))
    with pytest.raises(ValueError, match="expected fill_value to be a number, a tensor or one"):
        GATConv(5, 4, edge_dim=3, fill_value="median")
