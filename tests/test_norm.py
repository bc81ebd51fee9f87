import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm as pyg_gcn_norm

from glt import CSRGraph, gcn_norm


def to_dense(edge_index, weight, n):
    out = torch.zeros(n, n, dtype=torch.float64)
    out.index_put_((edge_index[0], edge_index[1]), weight.double(), accumulate=True)
    return out


# directed edges, a duplicate (0->1 twice), a self-loop (3->3), an isolated node (5)
EDGES = torch.tensor([[0, 1, 1, 2, 3, 3, 4, 0], [1, 0, 2, 1, 3, 4, 0, 1]])


def dense_formula(edge_index, weight, n, fill):
    """D^-1/2 (A + fill*I on loop-free nodes) D^-1/2 in aggregation layout [target, source]."""
    w = torch.ones(edge_index.size(1)) if weight is None else weight
    a = to_dense(edge_index, w, n).t()
    diag = torch.full((n,), fill, dtype=torch.float64)
    for (s, t), value in zip(edge_index.t().tolist(), w.tolist()):
        if s == t:
            diag[s] = value
    a.fill_diagonal_(0)
    a += torch.diag(diag)
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return inv[:, None] * a * inv[None, :]


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_formula_and_pyg(improved, weighted):
    weight = torch.rand(8) + 0.5 if weighted else None
    graph = CSRGraph.from_edge_index(EDGES, 6, weight)
    adj = gcn_norm(graph, improved=improved)
    ours = to_dense(adj.edge_index(), adj.edge_weight, 6)
    expected = dense_formula(EDGES, weight, 6, 2.0 if improved else 1.0)
    assert torch.allclose(ours, expected, atol=1e-6)
    assert gcn_norm(graph, improved=improved) is adj  # cached
    if weighted or not improved:
        # PyG's edge_index path ignores improved=True without edge weights (its
        # loops then get weight 1), so it is an oracle for the other cases only.
        ei, ew = pyg_gcn_norm(EDGES, weight, 6, improved=improved, add_self_loops=True)
        assert torch.allclose(ours, to_dense(ei, ew, 6).t(), atol=1e-6)


def test_without_self_loops_isolated_node_gets_zero():
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), 3)
    adj = gcn_norm(graph, add_self_loops=False)
    assert adj.edge_weight.tolist() == [1.0, 1.0]
    assert adj.out_degree().tolist() == [1, 1, 0]
