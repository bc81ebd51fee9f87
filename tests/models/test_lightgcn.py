import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from glt.datasets import load_rec
from glt.datasets.testing import write_lightgcn
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
    # a batch whose three parts differ in length, or an item past the last, is refused
    with pytest.raises(ValueError, match="expected pos \\(items\\) to have 2 entries"):
        model.bpr_loss(users, pos[:1], neg, 1e-3)
    with pytest.raises(ValueError, match="expected neg \\(items\\) to have 2 entries"):
        model.bpr_loss(users, pos, torch.tensor([5, 7, 9]), 1e-3)
    with pytest.raises(ValueError, match="expected neg \\(items\\) to hold ids below 30"):
        model.bpr_loss(users, pos, torch.tensor([5, 30]), 1e-3)


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_the_batch_rows_equal_the_full_propagation(data, num_layers):
    """The loss computes the last layer for the batch's rows only: the same loss
    and gradients as from the whole propagation, repeated ids included."""
    torch.manual_seed(num_layers)
    model = LightGCN(data.bipartite(), data.num_users, dim=8, num_layers=num_layers)
    nodes = torch.tensor([3, 0, 41, 17, 25])
    assert torch.allclose(model.final_rows(nodes), model.propagate()[nodes], atol=1e-6)
    users, pos, neg = (torch.randint(0, n, (40,)) for n in (20, 30, 30))
    loss = model.bpr_loss(users, pos, neg, 1e-3)
    (got,) = torch.autograd.grad(loss, model.embedding)
    final, e = model.propagate(), model.embedding
    u, p, n = final[users], final[data.num_users + pos], final[data.num_users + neg]
    reg = (e[users].pow(2).sum() + e[data.num_users + pos].pow(2).sum()
           + e[data.num_users + neg].pow(2).sum()) / (2 * 40)
    expected = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean() + 1e-3 * reg
    (want,) = torch.autograd.grad(expected, model.embedding)
    assert torch.allclose(loss, expected, atol=1e-7)
    assert torch.allclose(got, want, atol=1e-7)


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


@pytest.mark.parametrize("setting, error, message", [
    (dict(dim=0), ValueError, "expected dim to be >= 1, got 0"),
    (dict(num_layers=-1), ValueError, "expected num_layers to be >= 0, got -1"),
    (dict(num_layers=1.5), TypeError, "expected num_layers to be an integer, got 1.5"),
    (dict(decay=float("inf")), ValueError, "expected decay to be a finite number >= 0"),
    (dict(init_std=-0.1), ValueError, "expected init_std to be a finite number > 0")])
def test_bad_settings(data, setting, error, message):
    with pytest.raises(error, match=message):
        LightGCN(data.bipartite(), data.num_users, **setting)
