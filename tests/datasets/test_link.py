import pytest
import torch

from glt import CSRGraph
from glt.datasets import LinkDataset


def _toy(**change):
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 3]]), 4)
    split = {"train": {"edge": torch.tensor([[0, 1], [1, 2], [2, 3]])},
             "valid": {"edge": torch.tensor([[0, 2]]), "edge_neg": torch.tensor([[0, 3]])}}
    return LinkDataset(**{**dict(name="toy", graph=graph, x=None, split=split), **change})


@pytest.mark.parametrize("split, message", [
    ({"train": {"edge": torch.tensor([[0, 1, 2], [1, 2, 3]])}},
     r"expected toy split\['train'\]\['edge'\] of shape \[M, 2\], got \(2, 3\) \(an edge_index "
     r"\[2, M\]: OGB's layout is its .t\(\)\)"),
    ({"train": {"edge": torch.tensor([[0, 1]])}, "test": {"edge_neg": torch.tensor([[0, 4]])}},
     r"expected toy split\['test'\]\['edge_neg'\] to hold ids below 4, got 4"),
    ({"train": {"edge": torch.tensor([[0.0, 1.0]])}}, "to be an integer tensor"),
    ({"valid": {"edge": torch.tensor([[0, 1]])}}, r"expected split\['train'\]\['edge'\]"),
    # ogbl-citation2's layout: sources, their targets, K negative targets a source
    ({"train": {"source_node": torch.tensor([0, 1])}},
     r"expected split\['train'\]\['edge'\] \(or 'source_node' and 'target_node'\)"),
    ({"train": {"source_node": torch.tensor([[0, 1]]), "target_node": torch.tensor([1, 2])}},
     r"expected toy split\['train'\]\['source_node'\] of shape \[M\], got \(1, 2\)"),
    ({"train": {"source_node": torch.tensor([0, 1]), "target_node": torch.tensor([1])}},
     r"toy split\['train'\]\['target_node'\] has 1 rows and toy split\['train'\]"
     r"\['source_node'\] 2; expected one per source"),
    ({"train": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1])},
      "test": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1]),
               "target_node_neg": torch.tensor([2, 3])}},
     r"expected toy split\['test'\]\['target_node_neg'\] of shape \[M, K\], got \(2,\)"),
    ({"train": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1])},
      "test": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1]),
               "target_node_neg": torch.zeros(1, 0, dtype=torch.long)}},
     r"toy split\['test'\]\['target_node_neg'\] holds no negative targets \(shape \(1, 0\)\)"),
    ({"train": {"target_node": torch.tensor([1]), "source_node": torch.tensor(0)}},
     r"expected toy split\['train'\]\['source_node'\] of shape \[M\], got \(\)"),
    ({"train": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1])},
      "test": {"target_node": torch.tensor([1]), "target_node_neg": torch.tensor([[2, 3]])}},
     r"toy split\['test'\]\['target_node'\] has 1 rows and toy split\['test'\]"
     r"\['source_node'\] none"),
    ({"train": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1])},
      "test": {"source_node": torch.tensor([0]), "target_node": torch.tensor([1]),
               "target_node_neg": torch.tensor([[2, 4]])}},
     r"expected toy split\['test'\]\['target_node_neg'\] to hold ids below 4, got 4"),
])
def test_bad_splits_are_named(split, message):
    with pytest.raises(ValueError, match=message):
        _toy(split=split)


def test_a_good_split_and_its_features():
    assert _toy().num_nodes == 4
    with pytest.raises(ValueError, match=r"expected x of shape \[4, F\], got \(3, 8\)"):
        _toy(x=torch.ones(3, 8))
    x = torch.ones(4, 8)
    x[3] = float("nan")
    with pytest.raises(ValueError, match=r"toy: 4 NaN or infinite values in x \(the first "
                       r"in row 3\)"):
        _toy(x=x[:, ::2])  # a strided view


def test_sources_and_targets_are_pairs_as_ogbs_citation2_example_reads_them():
    split = {"train": {"source_node": torch.tensor([0, 2]), "target_node": torch.tensor([1, 3])}}
    data = _toy(split=split, node_attr={"node_year": torch.tensor([2001, 2002, 2003, 2004])})
    assert data.positives("train").tolist() == [[0, 1], [2, 3]]
    assert "train=2" in repr(data)
    negatives_only = _toy(split={**split, "test": {"edge_neg": torch.tensor([[0, 3]])}})
    assert repr(negatives_only).endswith("split edges: train=2)")
    with pytest.raises(ValueError, match="toy: its test split has no positive pairs"):
        negatives_only.positives("test")
    with pytest.raises(ValueError, match=r"node_attr\['node_year'\] has shape \(3,\), expected "
                       r"4 rows \(one per node\)"):
        _toy(node_attr={"node_year": torch.tensor([2001, 2002, 2003])})


def test_from_pyg_matches_per_edge_arrays_to_edges():
    """Per-edge arrays follow their edges into CSR order, from the edge_index
    order or from the adj_t order ``T.ToSparseTensor`` sorts them into."""
    import torch_geometric.transforms as T
    from torch_geometric.data import Data
    data = Data(edge_index=torch.tensor([[2, 0, 1, 2], [1, 1, 0, 0]]), num_nodes=3,
                edge_year=torch.tensor([[2003], [2001], [2002], [2004]]))
    split = {"train": {"edge": torch.tensor([[0, 1]])}}
    with torch.sparse.check_sparse_tensor_invariants(True):  # said, not warned about
        adj = T.ToSparseTensor(layout=torch.sparse_csr)(data.clone())
    assert adj.edge_year.view(-1).tolist() == [2002, 2004, 2001, 2003]  # by target
    for given in (data, adj):
        ours = LinkDataset.from_pyg(given, split, "toy")
        years = ours.edge_data["edge_year"].view(-1).tolist()
        assert dict(zip(map(tuple, ours.graph.edge_index().t().tolist()), years)) == {
            (2, 1): 2003, (0, 1): 2001, (1, 0): 2002, (2, 0): 2004}
