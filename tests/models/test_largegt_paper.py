"""PaperLargeGT against dense references written from the LargeGT authors' layer
equations (model.py / local_module.py of snap-research/LargeGT)."""
import math

import pytest
import torch
import torch.nn.functional as F

from glt.graph import CSRGraph
from glt.models.largegt import PaperLargeGT, TokenInputs


def _batch(n=5, f=3, k=3):
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    g, x = CSRGraph.from_edge_index(ei, n), torch.randn(n, f)
    return TokenInputs(g, x, k)(torch.arange(n), seed=0)


def _model(**kw):
    args = dict(heads=2, global_dim=4, num_codes=6, pos_dim=4)
    return PaperLargeGT(3, 8, 4, 5, **{**args, **kw})


def test_parameter_count_is_the_authors_less_their_unused_layers():
    # theirs for (F, H, C, h, G) = (100, 256, 47, 2, 64): 2,550,384, of which lin_key,
    # lin_query, lin_value, lin_skip (H -> hH) and out_proj (2H -> H) are never used
    f, hid, c, h, g = 100, 256, 47, 2, 64
    w = h * hid
    unused = 4 * (hid * w + w) + (2 * hid * hid + hid)
    model = PaperLargeGT(f, hid, c, 10, heads=h, global_dim=g, num_codes=4096, pos_dim=g)
    assert sum(p.numel() for p in model.parameters()) == 2_550_384 - unused


def test_local_module_matches_a_dense_reference():
    torch.manual_seed(0)
    tokens, mask, _ = _batch()
    keep = ~mask[:, 1:]
    model = _model().eval()
    att, h, d = model.attention, 2, 8
    t = model.embed(model.token_encoder(tokens))
    y = F.layer_norm(t, (d,), model.pre_norm.weight, model.pre_norm.bias)
    q, k, v = (y @ w.t() + b for w, b in zip(att.qkv.weight.chunk(3), att.qkv.bias.chunk(3)))
    heads = []
    for i in range(h):  # each head is H wide
        sl = slice(i * d, (i + 1) * d)
        s = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(d)
        s = s.masked_fill(mask.unsqueeze(1), -math.inf)
        heads.append(s.softmax(-1) @ v[..., sl])
    y = torch.cat(heads, -1) @ att.out.weight.t() + att.out.bias
    out = F.layer_norm(model.res_proj(t) + y, (h * d,), model.final_norm.weight,
                       model.final_norm.bias)
    node, rest = out[:, 0], out[:, 1:]
    score = model.readout(torch.cat([node.unsqueeze(1).expand_as(rest), rest], -1)).squeeze(-1)
    weight = score.masked_fill(~keep, -math.inf).softmax(-1)
    expected = node + (weight.unsqueeze(-1) * rest).sum(1)
    torch.testing.assert_close(model.local(tokens, mask), expected)
    # the authors' initialisation of the local module's linear maps
    assert model.res_proj.bias.abs().max() == 0 and model.res_proj.weight.std() < 0.03


def test_global_module_matches_a_dense_reference_and_updates_assignments():
    torch.manual_seed(0)
    model = _model()
    cb = model.codebook
    cb.norm.running_mean.uniform_(-1, 1)
    cb.norm.running_var.uniform_(0.5, 2)
    model.assigned.copy_(torch.tensor([0, 0, 2, 3, 3]))  # centroids 1, 4, 5: no node
    x, pos, nodes = torch.randn(3, 8), torch.randn(3, 4), torch.tensor([4, 0, 2])
    q_in = torch.cat([model.global_in(x), pos], 1)
    codes = cb.codes * torch.sqrt(cb.norm.running_var + cb.norm.eps) + cb.norm.running_mean
    q, k, v = model.q(q_in), model.k(codes), model.v(codes[:, :4])
    count = torch.tensor([2.0, 0, 1, 2, 0, 0])
    expected = []
    for i in range(2):
        sl = slice(8 * i, 8 * (i + 1))
        att = (q[:, sl] @ k[:, sl].t() / math.sqrt(8) + count.log()).softmax(-1)
        assert (att[:, count == 0] == 0).all()
        expected.append(att @ v[:, sl])
    model.eval()
    torch.testing.assert_close(model.glob(x, nodes, pos), torch.cat(expected, 1))
    assert model.assigned.tolist() == [0, 0, 2, 3, 3]  # evaluation assigns nothing
    model.train()
    before = cb.codes.clone()  # in the normalised space
    out = model.glob(x, nodes, pos)
    torch.testing.assert_close(out, torch.cat(expected, 1))  # the centroids before the update
    # then each node is assigned its batch-normalised query's nearest centroid
    z = (q_in - q_in.mean(0)) / torch.sqrt(q_in.var(0, unbiased=False) + cb.norm.eps)
    nearest = torch.cdist(z, before).argmin(1)
    assert model.assigned[nodes].tolist() == nearest.tolist()
    assert model.assigned[[1, 3]].tolist() == [0, 3]  # the others keep theirs
    assert not torch.equal(cb.codes, before)


def test_forward_shapes_chunks_and_errors():
    torch.manual_seed(0)
    tokens, mask, x = _batch()
    pos, nodes = torch.randn(5, 4), torch.arange(5)
    whole = _model(dropout=0.0, local_dropout=0.0, chunk_bytes=None, norm="layer")
    chunked = _model(dropout=0.0, local_dropout=0.0, chunk_bytes=1, norm="layer")
    chunked.load_state_dict(whole.state_dict())
    a, b = whole.eval()(tokens, mask, x, nodes, pos), chunked.eval()(tokens, mask, x, nodes, pos)
    assert a.shape == (5, 4) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    whole.train()(tokens, mask, x, nodes, pos).sum().backward()
    assert whole.token_encoder[0].weight.grad is not None and whole.q.weight.grad is not None
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in _model(norm=None).ffn)
    with pytest.raises(ValueError, match="norm 'batch', 'layer' or None"):
        _model(norm="group")
    with pytest.raises(ValueError, match="nodes .* to have 5 entries"):
        whole(tokens, mask, x, nodes[:3], pos)
    with pytest.raises(ValueError, match="nodes"):  # the model was built for 5 nodes
        whole(tokens, mask, x, nodes + 1, pos)
    with pytest.raises(ValueError, match="width 4 per node; got none"):
        whole(tokens, mask, x, nodes)
