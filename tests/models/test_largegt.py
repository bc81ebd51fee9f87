import pytest
import torch

from glt.graph import CSRGraph
from glt.models.largegt import LargeGT, TokenInputs


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


@pytest.mark.parametrize("cached", [False, True])
def test_integer_features_give_the_tokens_of_their_float_copy(tmp_path, cached):
    g, x = _graph(), torch.randint(0, 3, (5, 3))  # ogbl-ppa's one-hot species are int64
    cache = str(tmp_path / "hops") if cached else None
    a = TokenInputs(g, x, 3, cache=cache)(torch.tensor([0, 3, 4]), seed=2)
    b = TokenInputs(g, x.double().float(), 3)(torch.tensor([0, 3, 4]), seed=2)
    for p, q in zip(a, b):
        assert p.dtype == q.dtype
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("node_queries", [False, True])
def test_local_module_in_chunks_equals_the_whole_batch(node_queries):
    torch.manual_seed(0)
    g, x = _graph(), torch.randn(5, 3)
    tokens, mask, _ = TokenInputs(g, x, 3)(torch.arange(5), seed=0)
    whole = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6, dropout=0.0, attn_dropout=0.0,
                    node_queries=node_queries, chunk_bytes=None)
    queries = 3 if node_queries else 9
    per_node = max(3 * 2 * 8, 2 * queries) * 9 * 4  # QKV projection or scores, float32
    chunked = LargeGT(3, 8, 4, heads=2, global_dim=4, num_codes=6, dropout=0.0,
                      attn_dropout=0.0, node_queries=node_queries, chunk_bytes=2 * per_node + 1)
    chunked.load_state_dict(whole.state_dict())
    assert chunked.chunk_nodes(9, tokens.device) == 2 and whole.chunk_nodes(9, "cpu") > 5
    assert chunked.chunk_nodes(9, "meta") > 5  # only CPU batches are chunked
    out_whole, out_chunked = whole.local(tokens, mask), chunked.local(tokens, mask)
    torch.testing.assert_close(out_chunked, out_whole)
    out_whole.square().sum().backward()
    out_chunked.square().sum().backward()
    for (name, a), b in zip(whole.named_parameters(), chunked.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(b.grad, a.grad, msg=name)


def test_bad_chunk_bytes():
    with pytest.raises(ValueError, match="chunk_bytes > 0"):
        LargeGT(3, 8, 4, chunk_bytes=0)
