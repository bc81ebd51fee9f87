"""glt.train.lagnn: the LA objective (full-batch and mini-batch), the generator
selection of the paper's Algorithm 2 and its scoring GCN."""
import pytest
import torch
import torch.nn.functional as F

from glt.datasets import load_planetoid, row_normalize, sparse_features
from glt.graph import CSRGraph
from glt.models.lagnn import CVAE, la_backbone, train_cvae
from glt.train.lagnn import (augmentation, batch_augmentation, la_batch_objective,
                             la_full_predict, la_loss, la_objective, selection_gcn,
                             train_node_logits)
from glt.train.node import NodeTrainConfig, train_full_batch, train_nodes
from glt.train.sources import Neighbourhoods
from tests.models.lagnn_init import assert_lagnn_init


def test_la_loss_is_the_mean_nll_plus_the_consistency_term():
    """The LA-GNN code's loss: NLL on ``rows`` averaged over the samples, plus ``lam``
    x the squared distance of every row's probabilities to their sharpened average
    (temperature T), that target held fixed in backward."""
    torch.manual_seed(0)
    outs = [torch.randn(6, 3, requires_grad=True) for _ in range(4)]
    calls = iter(outs)
    rows, y = torch.tensor([0, 2, 5]), torch.tensor([1, 0, 2])
    got = la_loss(lambda: next(calls), rows, y, samples=4, lam=0.7, temperature=0.5)
    logps = [F.log_softmax(o, -1) for o in outs]
    nll = sum(-lp[rows, y].mean() for lp in logps) / 4
    ps = [lp.exp() for lp in logps]
    avg = sum(ps) / 4
    sharp = (avg ** 2 / (avg ** 2).sum(1, keepdim=True)).detach()
    expected = nll + 0.7 * sum(((p - sharp) ** 2).sum(1).mean() for p in ps) / 4
    torch.testing.assert_close(got, expected)
    ours = torch.autograd.grad(got, outs)
    theirs = torch.autograd.grad(expected, outs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_augmentation_draws_fresh_normalised_sets(toy):
    torch.manual_seed(0)
    cvae = CVAE(toy.num_features, hidden=16, latent=4)
    draw = augmentation(cvae, toy.x, row_normalize(toy.x), 3, row_normalize)
    first, second = draw(), draw()
    assert len(first) == 3 and first[0] is second[0]  # the model's own features, as given
    for generated in first[1:]:
        assert generated.shape == toy.x.shape
        torch.testing.assert_close(generated.sum(1), torch.ones(toy.num_nodes))
    assert not torch.equal(first[1], first[2]) and not torch.equal(first[1], second[1])


def test_selection_gcn_starts_as_the_la_gnn_code():
    """The generator-scoring GCN (32 hidden) is the LA-GNN code's ``GCN``, whose
    ``GraphConvolution`` layers draw weight and bias from N(-1/sqrt(out), 1/out)."""
    torch.manual_seed(0)
    gcn = selection_gcn(3000, 40)
    assert [c.lin.weight.shape for c in gcn.convs] == [(32, 3000), (40, 32)]
    for conv in gcn.convs:
        assert_lagnn_init(conv)
    assert all((c.bias == 0).all() for c in selection_gcn(30, 4, "glorot").convs)
    with pytest.raises(ValueError, match="expected init one of"):
        selection_gcn(30, 4, "zeros")


def test_la_training_runs_in_the_shared_loop(toy):
    torch.manual_seed(0)
    cvae = CVAE(toy.num_features, hidden=16, latent=4)
    train_cvae(cvae, toy.x, toy.graph, epochs=1)
    draw = augmentation(cvae, toy.x, toy.x, 3, lambda t: t)
    train_loss, predict = la_objective(draw, samples=2, lam=1.0, temperature=0.5)
    model = la_backbone("gcn", toy.num_features, 8, toy.num_classes, 3)
    result = train_full_batch(model, toy, epochs=5, lr=0.01, weight_decay=5e-4,
                              train_loss=train_loss, predict=predict)
    assert result.epochs == 5 and 0.0 <= result.test_acc <= 1.0
    with pytest.raises(ValueError, match="samples >= 1"):
        la_objective(draw, samples=0, lam=1.0, temperature=0.5)


def test_train_node_logits_equal_the_full_gcn_on_the_2_hop_region():
    """The generator-scoring passes run on the training nodes' 2-hop region: same
    logits and gradients as the full GCN at those nodes (networkx gives the region)."""
    import networkx as nx
    gen = torch.Generator().manual_seed(0)
    n = 300
    src = torch.randint(0, n, (500,), generator=gen)
    dst = (src + torch.randint(1, 6, (500,), generator=gen)) % n  # local edges: a small region
    graph = CSRGraph.from_edge_index(torch.stack([src, dst]), n).to_undirected()
    train = torch.zeros(n, dtype=torch.bool)
    train[torch.randperm(n, generator=gen)[:8]] = True
    x = torch.rand(n, 20, generator=gen)
    y = torch.randint(0, 3, (8,), generator=gen)
    torch.manual_seed(0)
    gcn = selection_gcn(20, 3, "glorot").double()  # live ReLUs (the LA-GNN init kills most)
    region, logits = train_node_logits(gcn, graph, train)
    g = graph.to_networkx()
    ball = set()
    for s in train.nonzero().view(-1).tolist():
        ball |= set(nx.single_source_shortest_path_length(g.to_undirected(), s, cutoff=2))
    assert region.tolist() == sorted(ball) and region.numel() < n
    xd = x.double()
    for mode, p in (("eval", 0.5), ("train", 0.0)):  # no dropout draws: exact match
        gcn.train(mode == "train")
        gcn.dropout = p
        full, part = gcn(xd, graph)[train], logits(xd[region])
        assert full.std(0).min() > 1e-3  # the nodes' logits differ
        assert torch.allclose(part, full, atol=1e-12)
        grads = [torch.autograd.grad(F.cross_entropy(out, y), list(gcn.parameters()))
                 for out in (full, part)]
        assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(*grads))
    gcn.train()
    gcn.dropout = 0.5
    torch.manual_seed(1)  # dropout passes: the same spread as the full GCN's
    with torch.no_grad():
        full = torch.stack([gcn(xd, graph)[train] for _ in range(400)])
        part = torch.stack([logits(xd[region]) for _ in range(400)])
    assert torch.allclose(part.std(0), full.std(0), rtol=0.2)
    assert torch.allclose(part.mean(0), full.mean(0), atol=0.2 * float(full.std(0).mean()))


def test_generator_selection_keeps_a_late_step(toy, monkeypatch):
    import glt.train.lagnn as lagnn
    torch.manual_seed(0)
    cvae = CVAE(toy.num_features, hidden=16, latent=4)
    seen = []
    real = lagnn.train_cvae

    def spy(*args, **kwargs):
        hook = kwargs["after_step"]
        kwargs["after_step"] = lambda t: (seen.append(t), hook(t))
        return real(*args, **kwargs)
    monkeypatch.setattr(lagnn, "train_cvae", spy)
    chosen, step = lagnn.pretrain_generator(cvae, toy.x, toy, lambda t: t, epochs=1,
                                            batch_size=64, num_models=3, warmup=2,
                                            update_epochs=1)
    assert seen == list(range(1, len(seen) + 1)) and len(seen) > 3
    assert step == 0 and chosen is cvae or 2 < step <= len(seen)
    assert chosen.num_features == toy.num_features


def test_local_augmentation_in_mini_batches(cora):
    torch.manual_seed(0)
    raw = load_planetoid("cora").x
    cvae = CVAE(cora.num_features)
    train_cvae(cvae, raw, cora.graph, epochs=1, batch_size=256)
    draw = batch_augmentation(cvae, raw, cora.x, 2, row_normalize)
    xs = draw(torch.tensor([0, 5]))
    assert len(xs) == 2 and torch.equal(xs[0], cora.x[[0, 5]])
    assert torch.allclose(xs[1].sum(1), torch.ones(2))  # generated, then row-normalised
    rows = torch.tensor([5, 0, 5, 2707])  # bag-of-words features: sparse CSR rows
    sparse = batch_augmentation(cvae, raw, sparse_features(cora.x), 2, row_normalize)(rows)
    assert sparse[0].layout == torch.sparse_csr and torch.equal(sparse[0].to_dense(), cora.x[rows])
    loss, predict = la_batch_objective(draw, samples=2, lam=1.0, temperature=0.5)
    torch.manual_seed(0)
    result = train_nodes(la_backbone("sage", cora.num_features, 16, cora.num_classes, 2),
                         Neighbourhoods(cora, [10, 10], 32, loss, predict), cora,
                         NodeTrainConfig(30, 0.01, 5e-4, eval_every=10))
    assert result.test_acc > 0.65
    model = la_backbone("sage", cora.num_features, 16, cora.num_classes, 2).eval()
    torch.manual_seed(3)
    whole = la_full_predict(draw)(model, cora)  # generated sets for every node
    torch.manual_seed(3)
    assert torch.equal(whole, model(draw(torch.arange(cora.num_nodes)), cora.graph))
    assert whole.shape == (cora.num_nodes, cora.num_classes)
    with pytest.raises(ValueError, match="samples >= 1"):
        la_batch_objective(draw, samples=0, lam=1.0, temperature=0.5)
