"""Layers given a torch sparse ``adj_t`` (what PyG's ``T.ToSparseTensor`` makes
without torch_sparse) compute what PyG's layers compute from it."""
import warnings

import pytest
import torch
import torch_geometric.nn as pyg_nn
import torch_geometric.transforms as T
from torch_geometric.data import Data

from glt.layers import GATConv, GCNConv, SAGEConv
from tests.layers.parity import EDGE_INDEX, NUM_NODES, assert_same_outputs_and_grads


def _adj_t(edge_index):
    with warnings.catch_warnings():  # torch's beta warning on sparse CSR
        warnings.simplefilter("ignore")
        return T.ToSparseTensor(layout=torch.sparse_csr)(
            Data(edge_index=edge_index, num_nodes=NUM_NODES)).adj_t


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
def test_a_sparse_adj_t_with_self_loops_is_its_edge_index(ours, theirs, kwargs):
    adj_t = _adj_t(EDGE_INDEX)
    edge_index = adj_t.to_sparse_coo().indices().flip(0)  # (source, target), duplicates merged
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
