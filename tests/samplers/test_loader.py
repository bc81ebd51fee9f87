import threading

import numpy as np

import pytest
import torch
import torch.nn.functional as F

import glt
from glt.datasets import load_planetoid, row_normalize
from glt.models import GraphSAGE
from glt.samplers import NeighborLoader


def small_graph(n=100):
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, n, (2, 600), generator=gen)
    return glt.CSRGraph.from_edge_index(ei, n)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_batches_cover_the_input_once_and_carry_features(prefetch):
    graph = small_graph()
    x, y = torch.randn(100, 5), torch.randint(0, 3, (100,))
    mask = torch.zeros(100, dtype=torch.bool)
    mask[::3] = True
    loader = NeighborLoader(graph, [4, 2], input_nodes=mask, batch_size=8, shuffle=True,
                            x=x, y=y, seed=0, prefetch=prefetch)
    batches = list(loader)
    assert len(batches) == len(loader) == 5  # 34 seeds
    seeds = torch.cat([b.node[:b.batch_size] for b in batches])
    assert sorted(seeds.tolist()) == list(range(0, 100, 3))
    for b in batches:
        assert torch.equal(b.x, x[b.node])
        assert torch.equal(b.y, y[b.node[:b.batch_size]])


def test_shuffle_seed_and_drop_last():
    graph = small_graph()
    a = NeighborLoader(graph, [3], batch_size=30, shuffle=True, drop_last=True, seed=1)
    b = NeighborLoader(graph, [3], batch_size=30, shuffle=True, drop_last=True, seed=1)
    first_a, first_b = list(a), list(b)
    assert len(first_a) == len(a) == 3 and all(x.batch_size == 30 for x in first_a)
    assert all(torch.equal(x.node, y.node) for x, y in zip(first_a, first_b))
    second = list(a)  # the next epoch reshuffles
    assert not torch.equal(first_a[0].node[:30], second[0].node[:30])
    plain = list(NeighborLoader(graph, [3], batch_size=30))
    assert torch.equal(plain[0].node[:30], torch.arange(30))


def test_breaking_early_stops_the_worker_and_errors_reach_the_caller():
    graph = small_graph()
    loader = NeighborLoader(graph, [3], batch_size=5, prefetch=1)
    for _ in loader:
        break
    assert not any(t.name == "glt-neighbor-loader" for t in threading.enumerate())
    loader.sampler.sample = None  # any failure inside the worker
    with pytest.raises(TypeError):
        list(loader)


def test_bad_input():
    graph = small_graph()
    with pytest.raises(ValueError, match="node mask"):
        NeighborLoader(graph, [3], input_nodes=torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="below 100"):
        NeighborLoader(graph, [3], input_nodes=torch.tensor([100]))
    with pytest.raises(ValueError, match="x to have 100 rows"):
        NeighborLoader(graph, [3], x=torch.randn(10, 2))
    with pytest.raises(ValueError, match="batch_size"):
        NeighborLoader(graph, [3], batch_size=0)


def test_graphsage_minibatch_epoch_on_cora_learns():
    data = load_planetoid("cora")
    x = row_normalize(data.x)
    torch.manual_seed(0)
    model = GraphSAGE(data.num_features, 32, data.num_classes, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    loader = NeighborLoader(data.graph, [10, 5], input_nodes=data.train_mask, batch_size=32,
                            shuffle=True, x=x, y=data.y, seed=0)
    for _ in range(30):
        model.train()
        for batch in loader:
            opt.zero_grad()
            out = model(batch.x, batch.graph)[:batch.batch_size]
            F.cross_entropy(out, batch.y).backward()
            opt.step()
    model.eval()
    test = NeighborLoader(data.graph, [-1, -1], input_nodes=data.test_mask, batch_size=256)
    correct = 0
    with torch.no_grad():
        for batch in test:
            pred = model(x[batch.node], batch.graph)[:batch.batch_size].argmax(-1)
            correct += int((pred == data.y[batch.node[:batch.batch_size]]).sum())
    assert correct / int(data.test_mask.sum()) > 0.7


def test_fanouts_and_batch_sizes_must_be_integers():
    graph = glt.CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 0]]), 3)
    with pytest.raises(TypeError, match="expected fanouts to be an integer, got 2.7"):
        NeighborLoader(graph, [2.7])
    with pytest.raises(TypeError, match="expected batch_size to be an integer, got 1.5"):
        NeighborLoader(graph, [2], batch_size=1.5)
    with pytest.raises(ValueError, match="expected batch_size to be >= 1, got 0"):
        NeighborLoader(graph, [2], batch_size=0)
    assert NeighborLoader(graph, [np.int64(2)], batch_size=np.int32(2)).batch_size == 2


def test_sparse_features_are_gathered_per_batch():
    """Real Cora's bag-of-words rows, sparse CSR (torch cannot index them), equal
    the dense rows: repeated rows, empty rows and none at all included."""
    from glt.datasets import sparse_features
    from glt.ops._csr import gather_rows
    dense = row_normalize(load_planetoid("cora").x)
    dense[5] = 0.0  # a row without entries
    x = sparse_features(dense)
    for rows in (torch.tensor([3, 5, 3, 2707, 0]), torch.tensor([], dtype=torch.long)):
        batch = gather_rows(x, rows)
        assert batch.layout == torch.sparse_csr and batch.shape == (rows.numel(), 1433)
        assert torch.equal(batch.to_dense(), dense[rows])
    loader = NeighborLoader(load_planetoid("cora").graph, [3], input_nodes=torch.arange(8),
                            batch_size=4, x=x)
    batch = next(iter(loader))
    assert torch.equal(batch.x.to_dense(), dense[batch.node])
