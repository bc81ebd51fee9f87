import pytest
import torch
import torch.nn.functional as F

import glt.models.ultragcn as ultragcn
from glt.graph import CSRGraph
from glt.models.ultragcn import UltraGCN, constraint_weights, item_neighbours
from glt.samplers import NegativeSampler


def _train(num_users=15, num_items=12, seed=0) -> CSRGraph:
    gen = torch.Generator().manual_seed(seed)
    dense = torch.rand(num_users, num_items, generator=gen) < 0.3
    dense[:, 0] = True  # every user has an item
    row, col = dense.nonzero().T
    return CSRGraph.from_edge_index(torch.stack([row, col]), num_users, num_cols=num_items)


def _dense(train: CSRGraph) -> torch.Tensor:
    r = torch.zeros(train.shape, dtype=torch.float64)
    r[train.row(), train.col] = 1
    return r


@pytest.mark.parametrize("zero_diagonal", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 5, 100])
def test_item_neighbours_match_dense_formula(zero_diagonal, chunk_size):
    train = _train()
    r = _dense(train)
    g = r.T @ r
    if zero_diagonal:
        g.fill_diagonal_(0)
    deg = g.sum(1)
    omega = g * ((deg + 1).sqrt() / deg)[:, None] * (1 / (deg + 1).sqrt())[None, :]
    ref_w, _ = omega.float().topk(4, dim=1)
    nbr, w = item_neighbours(train, 4, chunk_size=chunk_size, zero_diagonal=zero_diagonal)
    assert torch.allclose(w, ref_w, atol=1e-6)
    assert torch.allclose(omega.float().gather(1, nbr), w, atol=1e-6)


def test_constraint_weights():
    train = _train()
    r = _dense(train)
    beta_u, beta_i = constraint_weights(train)
    d_u, d_i = r.sum(1), r.sum(0)
    assert torch.allclose(beta_u.double(), (d_u + 1).sqrt() / d_u, atol=1e-6)
    assert torch.allclose(beta_i.double(), 1 / (d_i + 1).sqrt(), atol=1e-6)


def _official_loss(model, users, pos, neg):
    """The authors' loss, step by step (get_omegas, cal_loss_L, norm_loss, cal_loss_I)."""
    beta = model.beta_u[users] * model.beta_i[pos]
    pos_weight = model.w1 + model.w2 * beta
    neg_beta = torch.repeat_interleave(model.beta_u[users], neg.size(1)) * \
        model.beta_i[neg.flatten()]
    neg_weight = model.w3 + model.w4 * neg_beta
    u = model.user_embedding[users]
    pos_scores = (u * model.item_embedding[pos]).sum(-1)
    neg_scores = (u.unsqueeze(1) * model.item_embedding[neg]).sum(-1)
    neg_loss = F.binary_cross_entropy_with_logits(
        neg_scores, torch.zeros(neg_scores.size()), weight=neg_weight.view(neg_scores.size()),
        reduction="none").mean(dim=-1)
    pos_loss = F.binary_cross_entropy_with_logits(
        pos_scores, torch.ones(pos_scores.size()), weight=pos_weight, reduction="none")
    loss = (pos_loss + neg_loss * model.negative_weight).sum()
    loss = loss + model.gamma * sum((p ** 2).sum() for p in model.parameters()) / 2
    nbr = model.item_embedding[model.ii_neighbours[pos]]
    sim = model.ii_weights[pos]
    loss_i = (-sim * (u.unsqueeze(1) * nbr).sum(-1).sigmoid().log()).sum()
    return loss + model.lambda_ * loss_i


@pytest.mark.parametrize("dense", [True, False])
def test_loss_equals_official_computation(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(ultragcn, "DENSE_SCORES_LIMIT", 0)
    train = _train()
    torch.manual_seed(0)
    model = UltraGCN(train, dim=8, num_negatives=5, num_neighbours=3, init_std=0.3,
                     gamma=1e-2, lambda_=0.5)
    sampler = NegativeSampler(train)
    users, pos, neg = next(model.batches(sampler, 7, torch.Generator().manual_seed(1)))
    assert neg.shape == (7, 5)
    loss = model.loss(users, pos, neg)
    assert torch.allclose(loss, _official_loss(model, users, pos, neg), rtol=1e-5)
    loss.backward()
    grads = model.user_embedding.grad.clone(), model.item_embedding.grad.clone()
    model.zero_grad()
    _official_loss(model, users, pos, neg).backward()
    assert torch.allclose(model.user_embedding.grad, grads[0], rtol=1e-4, atol=1e-7)
    assert torch.allclose(model.item_embedding.grad, grads[1], rtol=1e-4, atol=1e-7)


def test_epoch_covers_every_interaction_once():
    train = _train()
    model = UltraGCN(train, dim=4, num_negatives=2, num_neighbours=3)
    batches = list(model.batches(NegativeSampler(train), 4, torch.Generator().manual_seed(0)))
    pairs = sorted(zip(torch.cat([b[0] for b in batches]).tolist(),
                       torch.cat([b[1] for b in batches]).tolist()))
    assert pairs == sorted(zip(train.row().tolist(), train.col.tolist()))


def test_bad_k():
    with pytest.raises(ValueError, match="expected 0 < k <= 12"):
        item_neighbours(_train(), 13)


def test_bad_batches():
    model = UltraGCN(_train(), dim=4, num_negatives=2, num_neighbours=3)
    with pytest.raises(ValueError, match="expected users to hold ids below 15, got 15"):
        model.loss(torch.tensor([15]), torch.tensor([0]), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"expected neg \(items\) to hold ids below 12"):
        model.loss(torch.tensor([1]), torch.tensor([0]), torch.tensor([[1, 12]]))
    with pytest.raises(ValueError, match=r"expected neg of shape \[1, M\]"):
        model.loss(torch.tensor([1]), torch.tensor([0]), torch.tensor([[1], [2]]))


@pytest.mark.parametrize("setting, error, message", [
    (dict(dim=0), ValueError, "expected dim to be >= 1, got 0"),
    (dict(num_negatives=0), ValueError, "expected num_negatives to be >= 1, got 0"),
    (dict(num_negatives=2.5), TypeError, "expected num_negatives to be an integer, got 2.5"),
    (dict(negative_weight=float("nan")), ValueError, "negative_weight to be a finite number"),
    (dict(w4=-1.0), ValueError, "expected w4 to be a finite number >= 0, got -1.0"),
    (dict(lambda_="5e-4"), TypeError, "expected lambda_ to be a number, got '5e-4'"),
    (dict(init_std=0.0), ValueError, "expected init_std to be a finite number > 0, got 0.0"),
    (dict(num_neighbours=0), ValueError, "expected num_neighbours to be >= 1, got 0"),
    (dict(num_neighbours=13), ValueError,
     "expected num_neighbours to be at most the 12 items of the training set, got 13")])
def test_bad_settings(setting, error, message):
    """Settings of no model (a 0-wide table, NaN weights, fractional negatives)
    are refused when the model is built, not met as NaN losses or late errors."""
    with pytest.raises(error, match=message):
        UltraGCN(_train(), **{"dim": 4, "num_negatives": 2, "num_neighbours": 3, **setting})


def test_user_without_training_items_trains():
    train = CSRGraph.from_edge_index(torch.tensor([[0, 0, 2], [1, 2, 0]]), 3, num_cols=3)
    model = UltraGCN(train, dim=4, num_negatives=2, num_neighbours=2)  # user 1 has no item
    batch = next(model.batches(NegativeSampler(train), 8, torch.Generator().manual_seed(0)))
    loss = model.loss(*batch)
    assert torch.isfinite(loss)


def test_l2_in_the_optimizer_trains_the_same_weights():
    from glt.train.recsys import adam
    train = _train()
    runs = []
    for in_optimizer in (False, True):
        torch.manual_seed(0)
        model = UltraGCN(train, dim=8, num_negatives=5, num_neighbours=3, init_std=0.3,
                         gamma=0.05, l2_in_optimizer=in_optimizer)
        opt = adam(model.parameters(), 0.01, model.weight_decay)
        losses = []
        for batch in model.batches(NegativeSampler(train), 7, torch.Generator().manual_seed(1)):
            opt.zero_grad()
            loss = model.loss(*batch)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        runs.append((losses, model.user_embedding.detach(), model.item_embedding.detach()))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-5)  # the L2 value reported too
    assert torch.allclose(runs[0][1], runs[1][1], atol=1e-6)
    assert torch.allclose(runs[0][2], runs[1][2], atol=1e-6)
    assert UltraGCN(train, dim=4, num_neighbours=3, gamma=0.05).weight_decay == 0.0
