import pytest
import torch
import torch.nn.functional as F

from glt.graph import CSRGraph
from glt.models.lagnn import CVAE, consistency_loss, la_backbone, neighbour_pairs, train_cvae
from glt.models.lagnn.cvae import binary_cross_entropy_sum
from tests.models.lagnn_init import assert_lagnn_init


def test_pairs_are_one_per_edge_without_self_loops():
    g = CSRGraph.from_edge_index(torch.tensor([[0, 0, 1, 2], [1, 0, 2, 1]]), 4)
    neighbour, centre = neighbour_pairs(g)
    assert sorted(zip(centre.tolist(), neighbour.tolist())) == [(0, 1), (1, 2), (2, 1)]


@pytest.mark.parametrize("variant", ["planetoid", "ogb"])
def test_cvae_loss_formula_and_shapes(variant):
    torch.manual_seed(0)
    model = CVAE(6, hidden=16, latent=3, variant=variant)
    x = torch.rand(5, 6)
    c = torch.rand(5, 6)
    torch.manual_seed(1)
    loss = model.loss(x, c)
    torch.manual_seed(1)
    recon, mu, logvar = model(x, c)
    rec = F.binary_cross_entropy(recon, x, reduction="sum") if variant == "planetoid" \
        else ((recon - x) ** 2).sum()
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()
    assert torch.allclose(loss, (rec + kl) / 5)
    out = model.generate(c)
    assert out.shape == (5, 6)
    low, high = (0, 1) if variant == "planetoid" else (-1, 1)
    assert bool(((out >= low) & (out <= high)).all())


def test_reconstruction_loss_takes_tf_idf_targets_above_one():
    """torch >= 2.1 refuses BCE targets outside [0, 1]; PubMed's features reach 1.26.
    In range: torch's BCE itself; beyond: -(t log p + (1 - t) log(1 - p)) in float64."""
    g = torch.Generator().manual_seed(0)
    p = (torch.rand(6, 5, generator=g) * 0.98 + 0.01).requires_grad_()
    binary = (torch.rand(6, 5, generator=g) < 0.3).float()
    assert torch.equal(binary_cross_entropy_sum(p, binary),
                       F.binary_cross_entropy(p, binary, reduction="sum"))
    tf_idf = binary * torch.rand(6, 5, generator=g) * 1.3
    assert float(tf_idf.max()) > 1
    with pytest.raises(RuntimeError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(p, tf_idf, reduction="sum")
    binary_cross_entropy_sum(p, tf_idf).backward()
    q, t = p.detach().double(), tf_idf.double()
    want = -(t * q.log() + (1 - t) * (1 - q).log())
    torch.testing.assert_close(binary_cross_entropy_sum(p, tf_idf).double(), want.sum(),
                               rtol=1e-6, atol=0)
    torch.testing.assert_close(p.grad.double(), (q - t) / (q * (1 - q)), rtol=1e-5, atol=1e-6)


def test_training_lowers_the_loss(toy):
    torch.manual_seed(0)
    model = CVAE(toy.num_features, hidden=32, latent=4)
    history = train_cvae(model, toy.x, toy.graph, epochs=3, batch_size=64, lr=0.01)
    assert history[-1] < history[0]


@pytest.mark.parametrize("variant", ["planetoid", "ogb"])
def test_a_diverged_generator_is_named_before_its_step(toy, variant):
    """Adam at lr 1e3 takes the decoder's outputs to NaN at the second step; torch's
    BCE would raise 'all elements of input should be between 0 and 1' there."""
    torch.manual_seed(0)
    model = CVAE(toy.num_features, hidden=8, latent=2, variant=variant)
    with pytest.raises(FloatingPointError, match=r"the generator's training diverged: its loss "
                       r"at step 2 is nan; a lower learning rate \(--cvae-lr\) may help"):
        train_cvae(model, toy.x, toy.graph, epochs=1, lr=1e3)
    assert all(torch.isfinite(w).all() for w in model.parameters())
    assert torch.isnan(binary_cross_entropy_sum(torch.full((2, 3), float("nan")),
                                                torch.zeros(2, 3)))


def test_training_stops_after_max_steps(toy):
    steps = []
    model = CVAE(toy.num_features, hidden=8, latent=2)
    before = [p.detach().clone() for p in model.parameters()]
    history = train_cvae(model, toy.x, toy.graph, epochs=50, batch_size=8, lr=1e-5,
                         after_step=steps.append, max_steps=20)
    assert steps == list(range(1, 21)) and len(history) == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="expected max_steps >= 1, got 0"):
        train_cvae(model, toy.x, toy.graph, max_steps=0)


def test_training_shows_its_steps_when_asked(toy, capsys):
    """The selection's pretraining runs minutes before the first epoch: a bar shows it."""
    model = CVAE(toy.num_features, hidden=8, latent=2)
    train_cvae(model, toy.x, toy.graph, epochs=50, batch_size=8, max_steps=7)
    assert capsys.readouterr().err == ""
    train_cvae(model, toy.x, toy.graph, epochs=50, batch_size=8, max_steps=7, progress=True)
    err = capsys.readouterr().err
    assert "generator" in err and "/7 [" in err  # its steps planned


def test_generator_round_trips_and_checks_feature_size(tmp_path, toy):
    model = CVAE(toy.num_features, hidden=16, latent=4)
    path = str(tmp_path / "cvae.pt")
    model.save(path)
    loaded = CVAE.load(path)
    gen = torch.Generator().manual_seed(3)
    a = model.generate(toy.x, gen)
    b = loaded.generate(toy.x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match=f"trained on {toy.num_features} features; got x with 3"):
        loaded.generate(torch.rand(4, 3))
    with pytest.raises(FileNotFoundError, match="no saved generator"):
        CVAE.load(str(tmp_path / "missing.pt"))


def test_bad_training_input(toy):
    model = CVAE(toy.num_features, hidden=8, latent=2)
    x = toy.x.clone()
    x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite node features"):
        train_cvae(model, x, toy.graph, epochs=1)
    lonely = CSRGraph.from_edge_index(torch.tensor([[0], [0]]), toy.num_nodes)
    with pytest.raises(ValueError, match="no pairs"):
        train_cvae(model, toy.x, lonely, epochs=1)


def test_isolated_nodes_still_get_features(toy):
    model = CVAE(toy.num_features, hidden=8, latent=2)
    out = model.generate(toy.x[:3])  # conditions alone: no neighbour needed
    assert out.shape == (3, toy.num_features) and torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["gcn", "gat", "sage"])
def test_la_backbones_branch_per_input(kind, toy):
    model = la_backbone(kind, toy.num_features, 4, toy.num_classes, num_inputs=3, heads=2)
    assert model.num_inputs == 3
    xs = [toy.x, torch.rand_like(toy.x), torch.rand_like(toy.x)]
    out = model(xs, toy.graph)
    assert out.shape == (toy.num_nodes, toy.num_classes)
    out.sum().backward()
    assert all(conv_param.grad is not None for conv_param in model.firsts[2].parameters())
    with pytest.raises(ValueError, match="expected 3 feature matrices"):
        model(xs[:2], toy.graph)


def test_lagnn_init_follows_the_la_gnn_code():
    """Weight and bias ~ N(-1/sqrt(out), 1/sqrt(out)^2) in every GCN layer (the LA-GNN
    code's ``normal_(-stdv, stdv)``), against glt's Glorot weights and zero bias."""
    torch.manual_seed(0)
    model = la_backbone("gcn", 2000, 16, 64, num_inputs=2, num_layers=3, init="lagnn")
    convs = list(model.firsts) + list(model.rest.convs)
    assert len(convs) == 4
    for conv in convs:
        assert_lagnn_init(conv)
    plain = la_backbone("gcn", 2000, 16, 64, num_inputs=2, num_layers=3)
    assert (plain.firsts[0].bias == 0).all()
    assert abs(plain.firsts[0].lin.weight.mean().item()) < 1e-3
    with pytest.raises(ValueError, match="expected init one of"):
        la_backbone("gcn", 8, 4, 3, num_inputs=2, init="kaiming")
    with pytest.raises(ValueError, match="GCN initialisation; got kind 'gat'"):
        la_backbone("gat", 8, 4, 3, num_inputs=2, init="lagnn")


def test_la_gat_elu_slope(toy):
    """LA-GAT with the LA-GNN code's ``F.elu(conv(x), alpha=0.2)`` after each first
    layer: the output equals the rest of the network applied to the concatenated
    ``h if h > 0 else 0.2 * (exp(h) - 1)`` of the first layers' outputs."""
    torch.manual_seed(0)
    model = la_backbone("gat", toy.num_features, 4, toy.num_classes, num_inputs=2, heads=2,
                        elu_alpha=0.2).eval()
    xs = [toy.x, torch.rand_like(toy.x)]
    h = [conv(x, toy.graph) for conv, x in zip(model.firsts, xs)]
    assert all((t < 0).any() for t in h)
    expected = model.rest(torch.cat([torch.where(t > 0, t, 0.2 * (t.exp() - 1)) for t in h], 1),
                          toy.graph)
    assert torch.allclose(model(xs, toy.graph), expected, atol=1e-6)
    plain = la_backbone("gat", toy.num_features, 4, toy.num_classes, num_inputs=2, heads=2)
    plain.load_state_dict(model.state_dict())
    assert not torch.allclose(plain.eval()(xs, toy.graph), expected, atol=1e-4)
    with pytest.raises(ValueError, match="elu_alpha sets LA-GAT's ELU; got kind 'gcn'"):
        la_backbone("gcn", 8, 4, 3, num_inputs=2, elu_alpha=0.2)


def test_consistency_loss_formula():
    torch.manual_seed(0)
    logps = [F.log_softmax(torch.randn(5, 3), 1) for _ in range(3)]
    ps = [lp.exp() for lp in logps]
    avg = sum(ps) / 3
    sharp = avg ** 2 / (avg ** 2).sum(1, keepdim=True)
    expected = sum(((p - sharp) ** 2).sum(1).mean() for p in ps) / 3
    assert torch.allclose(consistency_loss(logps, 0.5), expected)
    same = [logps[0]] * 3
    assert consistency_loss(same, 1.0) < 1e-12


@pytest.mark.parametrize("variant", ["planetoid", "ogb"])
def test_sampler_equals_decoding(variant):
    torch.manual_seed(0)
    model = CVAE(6, hidden=16, latent=3, variant=variant)
    model.eval()
    c = torch.rand(7, 6)
    fast = model.sampler(c)(torch.Generator().manual_seed(5))
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(fast, model.decode(z, c), atol=1e-6)


def test_ogb_generation_is_the_la_gnn_codes_whole_graph_decoding():
    """The LA-GNN code's OGB decoder, ``Linear -> BN -> ReLU -> Linear -> BN -> tanh``,
    run in training mode on every node at once: with the statistics set from that
    decoding, glt generates the same rows for any subset of the nodes."""
    torch.manual_seed(0)
    model = CVAE(6, hidden=16, latent=3, variant="ogb")
    train_cvae(model, torch.rand(40, 6) * 2 - 1, CSRGraph.from_edge_index(
        torch.randint(0, 40, (2, 120)), 40), epochs=2, batch_size=16)  # non-trivial norms
    for bn in (model.decoder[0][1], model.decoder[2]):
        with torch.no_grad():
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-0.5, 0.5)
    x = torch.rand(200, 6) * 2 - 1
    z = torch.randn(200, 3, generator=torch.Generator().manual_seed(4))
    model.set_generation_statistics(x, torch.Generator().manual_seed(4))
    first, bn1, second, bn2 = model.decoder[0][0], model.decoder[0][1], *model.decoder[1:]

    def batch_norm(h, bn):  # training mode: this batch's mean and biased variance
        return (h - h.mean(0)) / (h.var(0, unbiased=False) + bn.eps).sqrt() * bn.weight + bn.bias
    with torch.no_grad():
        h = F.relu(batch_norm(first(torch.cat([z, x], 1)), bn1))
        reference = torch.tanh(batch_norm(second(h), bn2))  # [200, 6]
        rows = torch.tensor([5, 0, 199, 42])
        model.eval()
        assert torch.allclose(model.decode(z[rows], x[rows]), reference[rows], atol=1e-5)
        model.train()  # the sampler generates in eval mode whatever the model's mode
        drawn = model.sampler(x)(torch.Generator().manual_seed(4))
        assert torch.allclose(drawn, reference, atol=1e-5)
    with pytest.raises(ValueError, match="only the 'ogb' variant"):
        CVAE(6).set_generation_statistics(x)


def test_generator_of_an_older_layout_is_named(tmp_path):
    model = CVAE(6, hidden=8, latent=2, variant="ogb")
    path = str(tmp_path / "g.pt")
    model.save(path)
    saved = torch.load(path, weights_only=True)
    saved["state"] = {k: v for k, v in saved["state"].items() if not k.startswith("decoder.2")}
    torch.save(saved, path)
    with pytest.raises(ValueError, match="does not fit glt's 'ogb' CVAE layout"):
        CVAE.load(path)


@pytest.mark.parametrize("kind", ["gcn", "gat", "sage"])
def test_deeper_la_backbones(kind, toy):
    model = la_backbone(kind, toy.num_features, 4, toy.num_classes, num_inputs=2, heads=2,
                        num_layers=4)
    assert len(model.rest.convs) == 3  # two hidden layers and the output layer
    out = model([toy.x, torch.rand_like(toy.x)], toy.graph)
    assert out.shape == (toy.num_nodes, toy.num_classes)
    with pytest.raises(ValueError, match="num_layers >= 2"):
        la_backbone(kind, toy.num_features, 4, toy.num_classes, num_inputs=2, num_layers=1)


@pytest.mark.parametrize("kind", ["gcn", "sage"])
def test_ogb_layout_is_the_la_gnn_codes(kind):
    """``batch_norm=True, input_dropout=False``: the LA-GNN code's OGB LAGCN / LASAGE
    (per input conv -> BatchNorm1d -> ReLU -> dropout, concatenated; middle layers
    of the concatenated width; the last conv), rebuilt from PyG layers with the
    same weights, in training (batch statistics, no dropout) and evaluation mode."""
    from torch_geometric.nn import GCNConv as PygGCN, SAGEConv as PygSAGE
    torch.manual_seed(0)
    x, edges = torch.randn(40, 6), torch.randint(0, 40, (2, 160))
    xs = [x, torch.rand(40, 6)]
    model = la_backbone(kind, 6, 8, 3, num_inputs=2, dropout=0.0, num_layers=3,
                        batch_norm=True, input_dropout=False)
    convs = list(model.firsts) + list(model.rest.convs)
    assert [c.out_channels for c in convs] == [8, 8, 16, 3]
    make = PygGCN if kind == "gcn" else PygSAGE
    ref = [make(c.in_channels, c.out_channels) for c in convs]
    for conv, theirs in zip(convs, ref):
        theirs.load_state_dict(conv.state_dict() if kind == "sage" else
                               {"lin.weight": conv.lin.weight, "bias": conv.bias})
    bns = [torch.nn.BatchNorm1d(w) for w in (8, 8, 16)]

    def reference(xs):
        h = torch.cat([F.relu(bns[k](ref[k](xs[k], edges))) for k in range(2)], dim=-1)
        return ref[3](F.relu(bns[2](ref[2](h, edges))), edges)
    for mode in (True, False):
        model.train(mode)
        for bn in bns:
            bn.train(mode)
        assert torch.allclose(model(xs, edges), reference(xs), atol=1e-5)
    with pytest.raises(ValueError, match="batch_norm applies to LA-GCN and LA-SAGE"):
        la_backbone("gat", 6, 8, 3, num_inputs=2, batch_norm=True)


def test_mean_combination_is_one_backbone_on_the_average(toy):
    """``combine="mean"``: the LA-GNN code's ogbn-products GraphSAGE on (x_hat + x) / 2."""
    from glt.models import GraphSAGE
    torch.manual_seed(0)
    model = la_backbone("sage", toy.num_features, 8, toy.num_classes, num_inputs=2,
                        num_layers=3, input_dropout=False, combine="mean").eval()
    plain = GraphSAGE(toy.num_features, 8, toy.num_classes, num_layers=3).eval()
    plain.load_state_dict(model.backbone.state_dict())
    xs = [toy.x, torch.rand_like(toy.x)]
    assert torch.allclose(model(xs, toy.graph), plain((xs[0] + xs[1]) / 2, toy.graph),
                          atol=1e-6)
    assert not model.backbone.input_dropout and model.backbone.norms is None
    sparse = [xs[0].to_sparse_csr(), xs[1]]  # sparse input features are averaged densely
    assert torch.allclose(model(sparse, toy.graph), model(xs, toy.graph), atol=1e-6)
    with pytest.raises(ValueError, match="expected 2 feature matrices"):
        model(xs[:1], toy.graph)
    with pytest.raises(ValueError, match="expected combine"):
        la_backbone("sage", 4, 8, 3, num_inputs=2, combine="sum")
