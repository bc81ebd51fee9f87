import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from glt.datasets import load_rec
from glt.datasets.testing import write_lightgcn
from glt.graph import CSRGraph
from glt.models.lightgcn import LightGCN


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rec"))
    write_lightgcn(path, num_users=20, num_items=30, per_user=6, seed=3)
    return load_rec(path)


def test_propagation_equals_dense_formula(data):
    model = LightGCN(data.bipartite(), data.num_users, dim=8, num_layers=3)
    n = data.num_users + data.num_items
    a = torch.zeros(n, n)
    g = data.bipartite()
    a[g.row(), g.col] = 1.0
    d = a.sum(1).pow(-0.5)
    d[torch.isinf(d)] = 0
    norm = d[:, None] * a * d[None, :]
    e = model.embedding.detach()
    layers = [e]
    for _ in range(3):
        layers.append(norm @ layers[-1])
    expected = torch.stack(layers).mean(0)
    users, items = model()
    assert torch.allclose(torch.cat([users, items]), expected, atol=1e-6)


def test_matches_pyg_lightgcn(data):
    model = LightGCN(data.bipartite(), data.num_users, dim=16, num_layers=2)
    n = data.num_users + data.num_items
    ref = PyGLightGCN(n, 16, num_layers=2)
    with torch.no_grad():
        ref.embedding.weight.copy_(model.embedding)
    expected = ref.get_embedding(data.bipartite().edge_index())
    assert torch.allclose(model.propagate(), expected, atol=1e-6)


def test_bpr_loss_formula(data):
    model = LightGCN(data.bipartite(), data.num_users, dim=8)
    users, pos, neg = torch.tensor([0, 3]), torch.tensor([1, 2]), torch.tensor([5, 7])
    final = model.propagate()
    u, p, n = final[users], final[data.num_users + pos], final[data.num_users + neg]
    e = model.embedding
    reg = (e[users].norm(dim=1).pow(2) + e[data.num_users + pos].norm(dim=1).pow(2)
           + e[data.num_users + neg].norm(dim=1).pow(2)).sum() / 2 / 2
    expected = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean() + 1e-3 * reg
    assert torch.allclose(model.bpr_loss(users, pos, neg, 1e-3), expected)
    model.loss(users, pos, neg).backward()
    assert model.embedding.grad is not None


def test_init_std_and_bad_input(data):
    torch.manual_seed(0)
    model = LightGCN(data.bipartite(), data.num_users, dim=64)
    assert abs(float(model.embedding.detach().std()) - 0.1) < 0.01
    with pytest.raises(ValueError, match="num_users"):
        LightGCN(data.bipartite(), data.num_users + data.num_items)


def test_out_of_range_ids(data):
    model = LightGCN(data.bipartite(), data.num_users, dim=8)
    with pytest.raises(ValueError, match="expected users to hold ids below 20, got 20"):
        model.loss(torch.tensor([20]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"expected neg \(items\) to hold ids below 30"):
        model.loss(torch.tensor([0]), torch.tensor([0]), torch.tensor([30]))


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_batch_rows_loss_equals_the_full_propagation(num_layers):
    """The loss computes the last layer for the batch's rows only: the same loss
    and gradients as reading them from the whole final embedding table."""
    torch.manual_seed(0)
    edges = torch.stack([torch.randint(0, 20, (120,)), torch.randint(20, 50, (120,))])
    edges = torch.cat([edges, edges.flip(0)], 1)
    model = LightGCN(CSRGraph.from_edge_index(edges, 50), 20, dim=8, num_layers=num_layers)
    users, pos, neg = torch.randint(0, 20, (16,)), torch.randint(0, 30, (16,)), \
        torch.randint(0, 30, (16,))
    model.loss(users, pos, neg).backward()
    ours = model.embedding.grad.clone()
    model.embedding.grad = None
    final = model.propagate()  # every row, then gathers: the reference
    u, p, n = final[users], final[20 + pos], final[20 + neg]
    e0 = model.embedding
    ref = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean() + model.decay * (
        e0[users].pow(2).sum() + e0[20 + pos].pow(2).sum() + e0[20 + neg].pow(2).sum()) / 32
    ref.backward()
    assert torch.allclose(model.loss(users, pos, neg), ref, atol=1e-6)
    assert torch.allclose(ours, model.embedding.grad, atol=1e-6)
    rows = torch.tensor([3, 40, 3, 7])
    assert torch.allclose(model.propagate(rows), final[rows], atol=1e-6)


def test_select_rows_is_the_rows_of_the_graph():
    edges = torch.tensor([[0, 0, 1, 2, 2, 2], [1, 2, 0, 0, 1, 2]])
    graph = CSRGraph.from_edge_index(edges, 3, edge_weight=torch.arange(6.0))
    part = graph.select_rows(torch.tensor([2, 0]))
    assert part.shape == (2, 3) and part.col.tolist() == [0, 1, 2, 1, 2]
    assert part.edge_weight.tolist() == [3.0, 4.0, 5.0, 0.0, 1.0]
    assert part.edge_id.tolist() == [3, 4, 5, 0, 1]
