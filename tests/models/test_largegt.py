import pytest
import torch

from glt.graph import CSRGraph
from glt.models.largegt import LargeGT, TokenInputs
from glt.train.largegt import predict_tokens, train_largegt


def _graph():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # a path 0-1-2-3, node 4 alone
    return CSRGraph.from_edge_index(ei, 5)


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
    from glt.train import largegt_cli
    # the Planetoid preset (2 tokens, per-hop token maps, node-only queries, 8 token
    # draws averaged when scoring), seed 0, over the first 200 of its 600 epochs
    result = largegt_cli.main(["--runs", "1", "--epochs", "200", "--eval-every", "10",
                               "--quiet"])
    assert result["preset"] == "planetoid" and result["test_acc_mean"] > 0.80


def test_predictions_average_the_class_probabilities_of_several_token_draws():
    torch.manual_seed(0)
    g, x = _graph(), torch.randn(5, 3)
    inputs = TokenInputs(g, x, num_tokens=3)
    model = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6)
    nodes = torch.arange(5)
    model.eval()
    with torch.no_grad():
        draws = [model(*inputs(nodes, seed=s)).softmax(-1) for s in range(8, 12)]  # seed 2
        single = model(*inputs(nodes, seed=2)).log_softmax(-1)
    out = predict_tokens(model, inputs, nodes, batch_size=2, seed=2, samples=4)
    torch.testing.assert_close(out, (sum(draws) / 4).log())
    torch.testing.assert_close(predict_tokens(model, inputs, nodes, seed=2), single)
    assert not torch.allclose(draws[0], draws[1])  # the draws differ
    with pytest.raises(ValueError, match="samples >= 1"):
        predict_tokens(model, inputs, nodes, samples=0)
    data = _toy_data()
    with pytest.raises(ValueError, match="eval_samples"):
        train_largegt(LargeGT(6, 8, 3, global_dim=4, num_codes=5), data,
                      TokenInputs(data.graph, data.x, 4), batch_size=8, epochs=1, lr=0.01,
                      eval_samples=0)


def test_global_module_with_a_positional_encoding_matches_a_reference():
    torch.manual_seed(0)
    model = LargeGT(3, 8, 4, global_dim=4, num_codes=6, pos_dim=2).eval()
    cb = model.codebook
    assert cb.codes.shape == (6, 6)  # centroids over [projected features, encoding]
    cb.norm.running_mean.uniform_(-1, 1)
    cb.norm.running_var.uniform_(0.5, 2)
    cb.cluster_size.uniform_(0.1, 3)
    x, pos = torch.randn(5, 3), torch.randn(5, 2)
    h = torch.cat([x @ model.global_in.weight.t() + model.global_in.bias, pos], dim=1)
    z = (h - cb.norm.running_mean) / torch.sqrt(cb.norm.running_var + cb.norm.eps)
    q = z @ model.q.weight.t() + model.q.bias
    k = cb.codes @ model.k.weight.t() + model.k.bias
    v = cb.codes[:, :4] @ model.v.weight.t() + model.v.bias  # values: the feature part
    att = (q @ k.t() / 2 + cb.cluster_size.log()).softmax(-1)
    torch.testing.assert_close(model.glob(x, pos), att @ v)
    assert not torch.allclose(model.glob(x, pos + 1), att @ v)


def test_positional_encoding_inputs_and_errors():
    torch.manual_seed(0)
    g, x, pos = _graph(), torch.randn(5, 3), torch.randn(5, 2)
    batch = TokenInputs(g, x, 3, pos=pos)(torch.tensor([4, 1]), seed=0)
    assert len(batch) == 4
    torch.testing.assert_close(batch[3], pos[[4, 1]])
    model = LargeGT(3, 8, 4, global_dim=4, num_codes=6, pos_dim=2)
    assert model(*batch).shape == (2, 4)
    with pytest.raises(ValueError, match="positional encoding of width 2 per node; got none"):
        model(*batch[:3])
    with pytest.raises(ValueError, match="no positional encoding"):
        LargeGT(3, 8, 4, global_dim=4, num_codes=6)(*batch)
    with pytest.raises(ValueError, match=r"shape \[2, 2\], got \(2, 3\)"):
        model(*batch[:3], torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"shape \[5, pos_dim\]"):
        TokenInputs(g, x, 3, pos=torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        TokenInputs(g, x, 3, pos=torch.full((5, 2), float("nan")))
    with pytest.raises(ValueError, match="dimension 6; this one holds 6 of dimension 4"):
        LargeGT(3, 8, 4, global_dim=4, num_codes=6).load_state_dict(model.state_dict())


def test_per_hop_encoder_and_node_queries():
    torch.manual_seed(0)
    g, x = _graph(), torch.randn(5, 3)
    tokens, mask, nodes_x = TokenInputs(g, x, 3)(torch.arange(5), seed=0)
    model = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6, token_encoder="per_hop",
                    node_queries=True).eval()
    # token 3k + j goes through hop j's own map
    enc = model.token_encoder(tokens)
    for j in range(3):
        torch.testing.assert_close(enc[:, j::3], tokens[:, j::3] @ model.token_encoder.weight[j])
    out = model(tokens, mask, nodes_x)
    assert out.shape == (5, 4) and torch.isfinite(out).all()
    # with node-only queries a neighbour's tokens still reach the node (as keys and
    # values, and in the readout)
    tokens2 = tokens.clone()
    tokens2[0, 3:] += 1.0
    assert not torch.allclose(model(tokens2, mask, nodes_x)[0], out[0])
    with pytest.raises(ValueError, match="token_encoder"):
        LargeGT(3, 8, 4, token_encoder="gru")


def test_script_runs_on_an_ogb_fixture(tmp_path):
    import json

    from glt.datasets.testing import write_ogb
    from glt.train import largegt_cli
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    out = str(tmp_path / "r.json")
    result = largegt_cli.main(["--dataset", "ogbn-products", "--root", str(tmp_path),
                               "--epochs", "2", "--num-tokens", "5", "--batch-size", "7",
                               "--runs", "2", "--eval-samples", "2", "--quiet", "--out", out])
    with open(out) as f:
        saved = json.load(f)
    assert saved["preset"] == "ogbn-products" and saved["settings"]["eval_samples"] == 2
    assert 0.0 <= result["test_acc_mean"] <= 1.0
    with pytest.raises(ValueError, match="no preset named 'nope'"):
        largegt_cli.main(["--preset", "nope", "--quiet"])


def test_script_takes_a_positional_encoding_file(tmp_path):
    import numpy as np

    from glt.datasets.testing import write_ogb
    from glt.train import largegt_cli
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=60, num_edges=240, num_features=4)
    args = ["--dataset", "ogbn-products", "--root", str(tmp_path), "--epochs", "1",
            "--num-tokens", "3", "--batch-size", "16", "--quiet"]
    np.save(tmp_path / "pos.npy", np.random.default_rng(0).normal(size=(60, 5)))
    torch.save(torch.randn(60, 3), tmp_path / "pos.pt")
    for name in ("pos.npy", "pos.pt"):
        result = largegt_cli.main(args + ["--pos-enc", str(tmp_path / name)])
        assert result["pos_enc"].endswith(name) and 0.0 <= result["test_acc_mean"] <= 1.0
    np.save(tmp_path / "short.npy", np.zeros((59, 5)))
    with pytest.raises(ValueError, match=r"should hold a \[60, d\] positional encoding"):
        largegt_cli.main(args + ["--pos-enc", str(tmp_path / "short.npy")])
    with pytest.raises(FileNotFoundError, match="no positional encoding file"):
        largegt_cli.main(args + ["--pos-enc", str(tmp_path / "missing.pt")])


def _toy_data():
    from glt.datasets import NodeDataset
    g = torch.Generator().manual_seed(1)
    graph = CSRGraph.from_edge_index(torch.randint(0, 60, (2, 300), generator=g), 60)
    y = torch.randint(0, 3, (60,), generator=g)
    x = torch.randn(60, 6, generator=g) + y.unsqueeze(1)
    split = torch.arange(60) % 3
    return NodeDataset("toy", graph, x, y, split == 0, split == 1, split == 2, 3)


def _small_run(tmp_path, epochs, checkpoint=None, amp=False, init_seed=0):
    data = _toy_data()
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    torch.manual_seed(init_seed)
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5, dropout=0.3,
                    input_dropout=0.2)
    result = train_largegt(model, data, inputs, batch_size=8, epochs=epochs, lr=0.01,
                           checkpoint=checkpoint, amp=amp)
    return model, result


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight, a = _small_run(tmp_path, 4)
    _small_run(tmp_path, 2, checkpoint=str(tmp_path))  # "killed" after epoch 2
    resumed, b = _small_run(tmp_path, 4, checkpoint=str(tmp_path), init_seed=7)
    assert b.curve == a.curve and b.best_epoch == a.best_epoch and b.epochs == 4
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    again, c = _small_run(tmp_path, 4, checkpoint=str(tmp_path), init_seed=9)  # finished
    assert c.curve == a.curve and c.seconds == b.seconds


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    _small_run(tmp_path, 1, checkpoint=str(tmp_path))
    data = _toy_data()
    model = LargeGT(6, 16, 3, heads=2, global_dim=4, num_codes=5)  # another width
    with pytest.raises(ValueError, match="belongs to another run"):
        train_largegt(model, data, TokenInputs(data.graph, data.x, 4), batch_size=8,
                      epochs=2, lr=0.01, checkpoint=str(tmp_path))


def test_mixed_precision_trains_and_agrees_with_float32(tmp_path):
    _, result = _small_run(tmp_path, 3, amp=True)
    assert 0.0 <= result.test_acc <= 1.0 and len(result.curve) == 3
    data = _toy_data()
    inputs = TokenInputs(data.graph, data.x, num_tokens=4)
    model = LargeGT(6, 8, 3, heads=2, global_dim=4, num_codes=5)
    full = predict_tokens(model, inputs, torch.arange(60))
    half = predict_tokens(model, inputs, torch.arange(60), amp=True)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, rtol=0.05, atol=0.05)


def test_a_saved_model_refuses_other_features(tmp_path):
    saved = LargeGT(6, 8, 3, global_dim=4, num_codes=5).state_dict()
    with pytest.raises(ValueError, match="takes 6 features per node; this one takes 7"):
        LargeGT(7, 8, 3, global_dim=4, num_codes=5).load_state_dict(saved)
    with pytest.raises(ValueError, match="holds 5 codes of dimension 4; this one holds 5 of "
                                         "dimension 3"):
        LargeGT(6, 8, 3, global_dim=3, num_codes=5).load_state_dict(saved)


def test_token_inputs_from_a_hop_cache_equal_the_in_memory_ones(tmp_path):
    g, x = _graph(), torch.randn(5, 3)
    a = TokenInputs(g, x, 3)(torch.tensor([0, 3, 4]), seed=2)
    b = TokenInputs(g, x, 3, cache=str(tmp_path / "hops"))(torch.tensor([0, 3, 4]), seed=2)
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q)


def test_papers100m_preset_streams_hops_checkpoints_and_resumes(tmp_path):
    import os

    from glt.datasets.testing import write_ogb
    from glt.train import largegt_cli
    write_ogb(str(tmp_path), "ogbn-papers100M", num_nodes=80, num_edges=300, num_features=4)
    args = ["--dataset", "ogbn-papers100M", "--root", str(tmp_path), "--epochs", "2",
            "--num-tokens", "4", "--batch-size", "16", "--runs", "2", "--quiet", "--amp",
            "--checkpoint", str(tmp_path / "ckpt")]
    first = largegt_cli.main(args)
    assert os.path.exists(tmp_path / "largegt_hops" / "ogbn-papers100M" / "hops.npy")
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["seed0.pt", "seed1.pt"]
    assert first["amp"] and first["settings"]["hidden"] == 512
    again = largegt_cli.main(args)  # both runs finished: read back, not retrained
    assert again["per_run"] == first["per_run"]
