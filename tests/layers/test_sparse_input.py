"""Layers given an ``adj_t`` (what PyG's ``T.ToSparseTensor`` makes: a torch sparse
tensor, or torch_sparse's ``SparseTensor`` where that is installed) compute what
PyG's layers compute from it or from its ``edge_index``."""
import warnings

import pytest
import torch
import torch_geometric.nn as pyg_nn
import torch_geometric.transforms as T
from torch_geometric.data import Data

from glt import CSRGraph
from glt.layers import GATConv, GCNConv, SAGEConv
from tests.layers.parity import EDGE_INDEX, NUM_NODES, assert_same_outputs_and_grads


def _adj_t(edge_index):
    with warnings.catch_warnings():  # torch's beta warning on sparse CSR
        warnings.simplefilter("ignore")
        return T.ToSparseTensor(layout=torch.sparse_csr)(
            Data(edge_index=edge_index, num_nodes=NUM_NODES)).adj_t


class SparseTensor:
    """torch_sparse's ``SparseTensor`` as glt reads it (``csr()`` and
    ``sparse_sizes()``, the methods of torch_sparse 0.6.18's class, here without its
    compiled library), built as ``T.ToSparseTensor`` builds an ``adj_t``: the
    entries sorted by (target, source), duplicates kept, no values unless weighted."""
    __module__ = "torch_sparse.tensor"

    def __init__(self, edge_index, value=None, size=NUM_NODES):
        order = (edge_index[1] * size + edge_index[0]).argsort(stable=True)
        row, self.col = edge_index[1][order], edge_index[0][order]
        self.rowptr = torch.cat([torch.zeros(1, dtype=torch.long),
                                 torch.bincount(row, minlength=size).cumsum(0)])
        self.value, self.size = (None if value is None else value[order]), size

    def csr(self):
        return self.rowptr, self.col, self.value

    def sparse_sizes(self):
        return self.size, self.size


def _torch_sparse_adj_t(edge_index, weight=None):
    """PyG's ``T.ToSparseTensor()`` output where torch_sparse is installed, else the
    stand-in above."""
    try:
        import torch_sparse  # noqa: F401
    except ImportError:
        return SparseTensor(edge_index, weight)
    data = Data(edge_index=edge_index, edge_weight=weight, num_nodes=NUM_NODES)
    adj_t = T.ToSparseTensor()(data).adj_t
    assert type(adj_t).__module__.startswith("torch_sparse")
    return adj_t


LAYERS = [(GCNConv, pyg_nn.GCNConv, {}), (SAGEConv, pyg_nn.SAGEConv, {}),
          (GATConv, pyg_nn.GATConv, {"heads": 2})]


@pytest.mark.parametrize("ours, theirs, kwargs", LAYERS)
@pytest.mark.parametrize("layout", [torch.sparse_csr, torch.sparse_coo, torch.sparse_csc])
def test_a_sparse_adj_t_gives_pygs_result(ours, theirs, kwargs, layout):
    # without self-loops: PyG's GCN on a torch sparse matrix adds a loop even where
    # one exists (its edge_index path adds only missing ones; below)
    adj_t = _adj_t(EDGE_INDEX[:, EDGE_INDEX[0] != EDGE_INDEX[1]])
    given = {torch.sparse_csr: adj_t, torch.sparse_coo: adj_t.to_sparse_coo(),
             torch.sparse_csc: adj_t.to_sparse_csc()}[layout]
    torch.manual_seed(0)
    assert_same_outputs_and_grads(ours(6, 4, **kwargs), theirs(6, 4, **kwargs),
                                  lambda m, x: m(x, given), lambda m, x: m(x, adj_t),
                                  torch.randn(NUM_NODES, 6))


@pytest.mark.parametrize("ours, theirs, kwargs", LAYERS)
@pytest.mark.parametrize("kind", ["torch", "torch_sparse"])
def test_an_adj_t_with_self_loops_is_its_edge_index(ours, theirs, kwargs, kind):
    # self-loops as PyG's edge_index path treats them; a torch sparse tensor merges the
    # duplicate 0 -> 1, a torch_sparse SparseTensor keeps it (counted twice)
    if kind == "torch":
        adj_t = _adj_t(EDGE_INDEX)
        edge_index = adj_t.to_sparse_coo().indices().flip(0)  # (source, target)
    else:
        adj_t, edge_index = _torch_sparse_adj_t(EDGE_INDEX), EDGE_INDEX
    torch.manual_seed(1)
    assert_same_outputs_and_grads(ours(6, 4, **kwargs), theirs(6, 4, **kwargs),
                                  lambda m, x: m(x, adj_t), lambda m, x: m(x, edge_index),
                                  torch.randn(NUM_NODES, 6))


def test_a_weighted_adj_t_weights_gcn():
    weight = torch.rand(EDGE_INDEX.size(1)) + 0.5
    keep = EDGE_INDEX[0] != EDGE_INDEX[1]
    edge_index, weight = EDGE_INDEX[:, keep], weight[keep]
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), weight, (NUM_NODES, NUM_NODES))
    torch.manual_seed(2)
    assert_same_outputs_and_grads(GCNConv(6, 4), pyg_nn.GCNConv(6, 4),
                                  lambda m, x: m(x, adj_t),
                                  lambda m, x: m(x, edge_index, weight), torch.randn(NUM_NODES, 6))


def test_bad_sparse_inputs():
    adj_t = _adj_t(EDGE_INDEX)
    x = torch.randn(NUM_NODES + 1, 6)
    with pytest.raises(ValueError, match=r"sparse adj_t of shape \(9, 9\) for the 9 rows of x, "
                       r"got \(8, 8\)"):
        GCNConv(6, 4)(x, adj_t)
    with pytest.raises(ValueError, match="edge_weight to be None with a sparse adjacency"):
        GCNConv(6, 4)(x[:-1], adj_t, torch.ones(3))


def test_a_weighted_torch_sparse_adj_t_weights_gcn():
    weight = torch.rand(EDGE_INDEX.size(1)) + 0.5
    adj_t = _torch_sparse_adj_t(EDGE_INDEX, weight)
    torch.manual_seed(4)
    assert_same_outputs_and_grads(GCNConv(6, 4), pyg_nn.GCNConv(6, 4),
                                  lambda m, x: m(x, adj_t),
                                  lambda m, x: m(x, EDGE_INDEX, weight), torch.randn(NUM_NODES, 6))


def test_a_data_with_adj_t_gives_its_graph():
    edges = sorted(map(tuple, EDGE_INDEX.t().tolist()))
    # torch_sparse keeps the duplicate 0 -> 1; a torch sparse tensor merges it
    for adj_t, want in ((_torch_sparse_adj_t(EDGE_INDEX), edges),
                        (_adj_t(EDGE_INDEX), sorted(set(edges)))):
        graph = CSRGraph.from_pyg(Data(adj_t=adj_t, num_nodes=NUM_NODES))
        assert graph.shape == (NUM_NODES, NUM_NODES)
        assert sorted(map(tuple, graph.edge_index().t().tolist())) == want
    with pytest.raises(ValueError, match=r"expected the Data's adj_t to be \[9, 9\] "
                       r"\(num_nodes\), got \(8, 8\)"):
        CSRGraph.from_pyg(Data(adj_t=_adj_t(EDGE_INDEX), num_nodes=NUM_NODES + 1))


def test_bad_torch_sparse_inputs():
    adj_t = SparseTensor(EDGE_INDEX)
    with pytest.raises(ValueError, match=r"got a torch_sparse SparseTensor adjacency of shape "
                       r"\(8, 8\): build its graph with CSRGraph.from_sparse"):
        CSRGraph.from_edge_index(adj_t)
    with pytest.raises(ValueError, match=r"sparse adj_t of shape \(9, 9\) for the 9 rows"):
        SAGEConv(6, 4)(torch.randn(NUM_NODES + 1, 6), adj_t)
    cut = SparseTensor(EDGE_INDEX)
    cut.rowptr = cut.rowptr[:-1]
    with pytest.raises(ValueError, match="rowptr to have 9 entries for its 8 rows, got 8"):
        CSRGraph.from_sparse(cut)
    wide = SparseTensor(EDGE_INDEX, torch.ones(EDGE_INDEX.size(1), 2))
    with pytest.raises(ValueError, match="edge_weight"):
        GCNConv(6, 4)(torch.randn(NUM_NODES, 6), wide)
    with pytest.raises(ValueError, match="expected an edge_index or a CSRGraph with edge_attr"):
        GATConv(6, 4, edge_dim=3)(torch.randn(NUM_NODES, 6), adj_t,
                                  torch.randn(EDGE_INDEX.size(1), 3))
    with pytest.raises(TypeError, match="torch sparse tensor .* or a torch_sparse "
                       "SparseTensor, got list"):
        CSRGraph.from_sparse([[0, 1]])


@pytest.mark.parametrize("layer", [lambda: GCNConv(6, 4), lambda: SAGEConv(6, 4),
                                   lambda: SAGEConv(6, 8), lambda: SAGEConv(6, 4, aggr="max"),
                                   lambda: GATConv(6, 4, heads=2)])
@pytest.mark.parametrize("sparse", [False, True])
def test_features_of_another_width_are_named(layer, sparse):
    """A layer of input width 6 given 5 features: the error names both widths (it
    was torch's matrix-shape error, or for max aggregation one after it)."""
    x = torch.rand(NUM_NODES, 5)
    x = x.to_sparse_csr() if sparse else x
    with pytest.raises(ValueError, match=rf"expected x \[\.\.\., 6\] .* got x of shape "
                                         rf"\({NUM_NODES}, 5\)"):
        layer()(x, EDGE_INDEX)
