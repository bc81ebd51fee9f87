import pytest
import torch
import torch.nn.functional as F

from glt.datasets import load_planetoid, row_normalize, sparse_features
from glt.models import GAT, GCN, GraphSAGE
from glt.models.link import LinkPredictor


@pytest.fixture(scope="module")
def cora():
    data = load_planetoid("cora")
    data.x = row_normalize(data.x)
    return data


@pytest.mark.parametrize("make, min_acc", [
    (lambda f, c: GCN(f, 16, c), 0.75),
    (lambda f, c: GraphSAGE(f, 16, c), 0.70),
    (lambda f, c: GAT(f, 8, c, heads=8), 0.75),
])
def test_learns_cora(cora, make, min_acc):
    torch.manual_seed(0)
    model = make(cora.num_features, cora.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(60):
        model.train()
        opt.zero_grad()
        out = model(cora.x, cora.graph)
        F.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
        opt.step()
    model.eval()
    pred = model(cora.x, cora.graph).argmax(-1)
    acc = (pred[cora.test_mask] == cora.y[cora.test_mask]).float().mean().item()
    assert acc > min_acc


def test_layer_layout_and_shapes():
    gat = GAT(10, 8, 3, num_layers=3, heads=4, out_heads=2)
    assert [c.heads for c in gat.convs] == [4, 4, 2]
    assert gat.convs[1].in_channels == 32 and not gat.convs[-1].concat
    x, edge_index = torch.randn(5, 10), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert gat(x, edge_index).shape == (5, 3)
    assert GCN(10, 4, 3, num_layers=1)(x, edge_index).shape == (5, 3)
    with pytest.raises(ValueError, match="expected num_layers to be >= 1, got 0"):
        GCN(10, 4, 3, num_layers=0)


@pytest.mark.parametrize("make, error, message", [
    (lambda: GCN(10, 0, 3), ValueError, "expected hidden_channels to be >= 1, got 0"),
    (lambda: GraphSAGE(0, 4, 3), ValueError, "expected in_channels to be >= 1, got 0"),
    (lambda: GAT(10, 4, 2.0), TypeError, "expected out_channels to be an integer, got 2.0"),
    (lambda: GCN(10, 4, 3, dropout=2.0), ValueError, r"expected dropout to be in \[0, 1\]"),
    (lambda: GraphSAGE(10, 4, 3, dropout=-0.1), ValueError, "dropout to be a finite number"),
    (lambda: LinkPredictor(4, 4, dropout=1.5), ValueError, "expected dropout to be in"),
    (lambda: LinkPredictor(4, 4, num_layers=0), ValueError, "num_layers to be >= 1, got 0")])
def test_settings_of_no_model_are_refused_when_built(make, error, message):
    """A dropout of 2 was met only at the first training step; a 0-wide layer
    made a model that trains and predicts nothing."""
    with pytest.raises(error, match=message):
        make()



@pytest.mark.parametrize("make", [
    lambda: GCN(40, 64, 3, num_layers=3, dropout=0.25),
    lambda: GAT(40, 16, 3, num_layers=3, heads=4, dropout=0.25),
    lambda: GraphSAGE(40, 64, 3, num_layers=3, dropout=0.25),
])
def test_dropout_before_every_layer(make):
    """In training mode each layer's input is the previous layer's activated output
    (the features for the first) with entries zeroed at rate p and the rest scaled
    by 1 / (1 - p); the inputs are large enough (>= 4096 entries) for glt's
    parallel CPU mask. Seeded masks repeat; unseeded calls draw fresh ones."""
    torch.manual_seed(0)
    model = make().train()
    x, edge_index = torch.rand(200, 40) + 0.5, torch.randint(0, 200, (2, 800))
    inputs: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []
    for conv in model.convs:
        conv.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
        conv.register_forward_hook(lambda _, args, out: outputs.append(out))
    torch.manual_seed(1)
    out = model(x, edge_index)
    clean = [x] + [model.activation(o) for o in outputs[:-1]]
    for dropped, full in zip(inputs, clean):
        live = full != 0
        kept = dropped != 0
        assert not (kept & ~live).any()
        assert abs(1 - kept[live].float().mean().item() - 0.25) < 0.03
        torch.testing.assert_close(dropped[kept], full[kept] / 0.75)
    torch.manual_seed(1)
    torch.testing.assert_close(model(x, edge_index), out)
    assert not torch.allclose(model(x, edge_index), out)


@pytest.mark.parametrize("make", [
    lambda f, c: GCN(f, 16, c),
    lambda f, c: GAT(f, 8, c, heads=4),
    lambda f, c: GraphSAGE(f, 16, c),
    lambda f, c: GraphSAGE(f, 16, c, aggr="max"),  # aggregates the features themselves
])
def test_sparse_features_train_as_the_dense_ones(cora, make):
    """Cora's features as a sparse CSR matrix: in training mode (the same seed, so
    the same dropout masks) the logits and every gradient equal the dense run's."""
    sparse = sparse_features(cora.x)
    assert sparse.layout == torch.sparse_csr
    torch.manual_seed(1)
    model = make(cora.num_features, cora.num_classes).train()
    grads = []
    for x in (cora.x, sparse):
        torch.manual_seed(2)
        out = model(x, cora.graph)
        model.zero_grad()
        F.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (dense_out, dense_grads), (sparse_out, sparse_grads) = grads
    assert torch.allclose(dense_out, sparse_out, atol=1e-5)
    for a, b in zip(dense_grads, sparse_grads):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["gcn", "sage"])
def test_ogb_layout_matches_pyg_stack(kind):
    """``batch_norm=True, input_dropout=False`` is OGB's example GCN / GraphSAGE:
    conv -> BatchNorm1d -> ReLU -> dropout, then the last conv (PyG's layers with
    the same weights as the reference), in training (batch statistics; no
    dropout so the masks do not matter) and in evaluation mode."""
    from torch_geometric.nn import GCNConv as PygGCN, SAGEConv as PygSAGE
    torch.manual_seed(0)
    x, edges = torch.randn(30, 12), torch.randint(0, 30, (2, 90))
    if kind == "gcn":
        model = GCN(12, 16, 4, num_layers=3, dropout=0.0, batch_norm=True, input_dropout=False)
        ref = [PygGCN(a, b) for a, b in ((12, 16), (16, 16), (16, 4))]
    else:
        model = GraphSAGE(12, 16, 4, num_layers=3, dropout=0.0, batch_norm=True,
                          input_dropout=False)
        ref = [PygSAGE(a, b) for a, b in ((12, 16), (16, 16), (16, 4))]
    bns = [torch.nn.BatchNorm1d(16) for _ in range(2)]
    for conv, theirs in zip(model.convs, ref):
        theirs.load_state_dict(conv.state_dict() if kind == "sage" else
                               {"lin.weight": conv.lin.weight, "bias": conv.bias})
    assert len(model.norms) == 2 and not model.input_dropout

    def reference(x):
        for i, conv in enumerate(ref):
            x = conv(x, edges)
            if i < 2:
                x = F.relu(bns[i](x))
        return x
    for mode in (True, False):  # batch statistics, then the running ones both kept
        model.train(mode)
        for bn in bns:
            bn.train(mode)
        assert torch.allclose(model(x, edges), reference(x), atol=1e-5)
    assert torch.allclose(model.norms[0].running_mean, bns[0].running_mean, atol=1e-6)
    model.reset_parameters()
    assert float(model.norms[0].running_mean.abs().sum()) == 0.0


@pytest.mark.parametrize("make", [lambda: GCN(12, 16, 4, num_layers=3),
                                  lambda: GraphSAGE(12, 16, 4, num_layers=3),
                                  lambda: GAT(12, 8, 4, num_layers=3, heads=2)])
def test_an_edge_index_or_adj_t_is_built_once_per_forward(make, monkeypatch):
    import glt.graph
    from glt import CSRGraph
    torch.manual_seed(0)
    model, x = make().eval(), torch.randn(30, 12)
    edges = torch.randint(0, 30, (2, 90)).unique(dim=1)  # a torch sparse adj_t merges repeats
    expected = model(x, CSRGraph.from_edge_index(edges, 30))
    adj_t = torch.sparse_coo_tensor(edges.flip(0), torch.ones(edges.size(1)), (30, 30))
    for given, maker in ((edges, "from_edge_index"), (adj_t, "from_sparse")):
        calls = []
        real = getattr(CSRGraph, maker)
        monkeypatch.setattr(glt.graph.CSRGraph, maker,
                            classmethod(lambda cls, *a, **k: calls.append(1) or real(*a, **k)))
        out = model(x, given)
        monkeypatch.undo()
        assert len(calls) == 1, maker
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: GCN(6, 8, 3), lambda: GAT(6, 4, 3, heads=2),
                                  lambda: GraphSAGE(6, 8, 3)])
def test_integer_features_are_used_as_floats(make):
    """One-hot or count features stored as integers (as OGB stores ogbl-ppa's)
    give the logits of the same features as floats; torch's dropout refused them."""
    torch.manual_seed(0)
    model = make()
    x = torch.randint(0, 3, (10, 6))
    edges = torch.randint(0, 10, (2, 30))
    for training in (False, True):
        model.train(training)
        torch.manual_seed(1)
        ours = model(x, edges)
        torch.manual_seed(1)
        assert torch.equal(ours, model(x.float(), edges))
