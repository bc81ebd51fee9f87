import pytest
import torch

from glt.datasets import load_planetoid, row_normalize
from glt.graph import CSRGraph
from glt.models.largegt import LargeGT, TokenInputs, hop_features
from glt.train.largegt import predict_tokens, train_largegt


def _graph():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # a path 0-1-2-3, node 4 alone
    return CSRGraph.from_edge_index(ei, 5)


def test_hop_features_equal_dense_powers():
    g, x = _graph(), torch.randn(5, 3)
    a = torch.zeros(5, 5)
    a[g.row(), g.col] = 1
    a += torch.eye(5)
    d = a.sum(1).rsqrt()
    a_hat = d[:, None] * a * d[None, :]
    h = hop_features(g, x)
    torch.testing.assert_close(h[1], a_hat @ x)
    torch.testing.assert_close(h[2], a_hat @ a_hat @ x)


def test_token_inputs_mask_missing_tokens():
    g, x = _graph(), torch.randn(5, 3)
    inputs = TokenInputs(g, x, num_tokens=3)
    tokens, mask, nodes_x = inputs(torch.tensor([0, 4]), seed=1)
    assert tokens.shape == (2, 9, 3) and mask.shape == (2, 9)
    assert not mask[0].any()  # node 0 has 2-hop neighbours 1 and 2
    assert not mask[1, :3].any() and mask[1, 3:].all()  # node 4 has only itself
    torch.testing.assert_close(tokens[1, :3], inputs.hops[4])
    torch.testing.assert_close(nodes_x, x[[0, 4]])


def test_forward_shapes_padding_and_bad_features():
    torch.manual_seed(0)
    g, x = _graph(), torch.randn(5, 3)
    model = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6)
    out = model(*TokenInputs(g, x, 3)(torch.arange(5)))
    assert out.shape == (5, 4) and torch.isfinite(out).all()  # isolated node 4 included
    out.sum().backward()
    with pytest.raises(ValueError, match="expected 3 features"):
        model(torch.randn(2, 6, 5), torch.zeros(2, 6, dtype=torch.bool), torch.randn(2, 5))


def test_learns_cora():
    data = load_planetoid("cora")
    data.x = row_normalize(data.x)
    inputs = TokenInputs(data.graph, data.x, num_tokens=20)
    torch.manual_seed(0)
    model = LargeGT(data.num_features, 64, data.num_classes, global_dim=32, num_codes=64,
                    dropout=0.5, attn_dropout=0.2, input_dropout=0.9)
    result = train_largegt(model, data, inputs, batch_size=140, epochs=80, lr=0.004,
                           weight_decay=0.05, eval_every=20)
    assert result.test_acc > 0.65
    assert predict_tokens(model, inputs, torch.arange(7)).shape == (7, data.num_classes)


def test_script_runs_on_an_ogb_fixture(tmp_path):
    import json

    from glt.datasets.testing import write_ogb
    from glt.train import largegt_cli
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    out = str(tmp_path / "r.json")
    result = largegt_cli.main(["--dataset", "ogbn-products", "--root", str(tmp_path),
                               "--epochs", "2", "--num-tokens", "5", "--batch-size", "7",
                               "--runs", "2", "--quiet", "--out", out])
    with open(out) as f:
        assert json.load(f)["preset"] == "ogbn-products"
    assert 0.0 <= result["test_acc_mean"] <= 1.0
    with pytest.raises(ValueError, match="no preset named 'nope'"):
        largegt_cli.main(["--preset", "nope", "--quiet"])
