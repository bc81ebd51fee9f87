import os

import pytest
import torch

import glt.propagate as propagate
from glt.graph import CSRGraph
from glt.propagate import cached_hop_features, hop_features


def _graph():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # a path 0-1-2-3, node 4 alone
    return CSRGraph.from_edge_index(ei, 5)


def _dense_a_hat(g: CSRGraph) -> torch.Tensor:
    a = torch.zeros(g.num_nodes, g.num_nodes)
    a.index_put_((g.col, g.row()), torch.ones(g.num_edges), accumulate=True)  # row = target
    a += torch.eye(g.num_nodes)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


def test_hop_features_equal_dense_powers():
    g, x = _graph(), torch.randn(5, 3)
    a_hat = _dense_a_hat(g)
    h = hop_features(g, x)
    torch.testing.assert_close(h[1], a_hat @ x)
    torch.testing.assert_close(h[2], a_hat @ a_hat @ x)


def test_cached_hops_stream_in_blocks_and_equal_the_dense_powers(tmp_path):
    torch.manual_seed(0)
    ei = torch.randint(0, 40, (2, 150))  # directed, with repeats and self-loops
    g, x = CSRGraph.from_edge_index(ei, 43), torch.randn(43, 6)  # 3 nodes without edges
    a_hat = _dense_a_hat(g.remove_self_loops())
    h = cached_hop_features(g, x, str(tmp_path / "hops"), hops=3, chunk_rows=7)
    assert h.shape == (43, 4, 6)
    ref = torch.stack(hop_features(g, x, hops=3), dim=1)
    torch.testing.assert_close(h, ref)
    torch.testing.assert_close(h[:, 2], a_hat @ a_hat @ x, rtol=1e-4, atol=1e-5)


def test_cached_hops_are_read_back_and_refreshed_when_the_data_change(tmp_path, monkeypatch):
    g, x = _graph(), torch.randn(5, 3)
    d = str(tmp_path / "hops")
    first = cached_hop_features(g, x, d).clone()
    monkeypatch.setattr(propagate, "gcn_norm", lambda *_: pytest.fail("recomputed"))
    torch.testing.assert_close(cached_hop_features(g, x, d), first)
    monkeypatch.undo()
    x2 = x.clone()
    x2[4] += 1  # another feature matrix of the same shape
    torch.testing.assert_close(cached_hop_features(g, x2, d)[4, 0], x2[4])


def test_an_interrupted_computation_leaves_no_cache(tmp_path, monkeypatch):
    def broken(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(propagate, "spmm", broken)
    with pytest.raises(KeyboardInterrupt):
        cached_hop_features(_graph(), torch.randn(5, 3), str(tmp_path / "hops"))
    assert os.listdir(tmp_path) == []


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected x to have 5 rows"):
        cached_hop_features(_graph(), torch.randn(4, 3), str(tmp_path))
    with pytest.raises(ValueError, match="floating-point"):
        cached_hop_features(_graph(), torch.ones(5, 3, dtype=torch.long), str(tmp_path))
