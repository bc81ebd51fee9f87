import math

import pytest
import torch

from glt.layers.attention import MultiHeadAttention
from glt.layers.codebook import EMACodebook
from glt.ops import dropout


def test_attention_matches_a_per_head_loop_with_padding():
    torch.manual_seed(0)
    att = MultiHeadAttention(dim=6, heads=3, head_dim=4)
    x = torch.randn(2, 5, 6)
    pad = torch.tensor([[False, False, True, False, True], [False] * 5])
    out = att(x, pad)
    q, k, v = att.qkv(x).split(12, dim=-1)
    ref = torch.empty(2, 5, 12)
    for b in range(2):
        for h in range(3):
            sl = slice(4 * h, 4 * h + 4)
            s = q[b, :, sl] @ k[b, :, sl].t() / math.sqrt(4)
            s[:, pad[b]] = -math.inf
            ref[b, :, sl] = s.softmax(-1) @ v[b, :, sl]
    torch.testing.assert_close(out, att.out(ref), atol=1e-5, rtol=1e-5)
    # a padded token never changes the others' outputs
    x2 = x.clone()
    x2[0, 2] += 100.0
    torch.testing.assert_close(att(x2, pad)[0, [0, 1, 3]], out[0, [0, 1, 3]])
    # only the first tokens querying: their rows of the full attention
    torch.testing.assert_close(att(x, pad, num_queries=2), out[:, :2], atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="num_queries"):
        att(x, pad, num_queries=6)


@pytest.mark.parametrize("num_queries", [None, 2])
def test_training_dropout_on_cpu_matches_a_per_head_loop(num_queries):
    torch.manual_seed(0)
    att = MultiHeadAttention(dim=6, heads=3, head_dim=4, dropout=0.3).train()
    x = torch.randn(2, 5, 6, requires_grad=True)
    pad = torch.tensor([[False, True, False, False, True], [True] * 5])  # row 1: no keys
    torch.manual_seed(7)
    out = att(x, pad, num_queries=num_queries)
    nq = num_queries or 5
    q, k, v = att.qkv(x).split(12, dim=-1)
    torch.manual_seed(7)  # the same dropout draws, head by head
    heads = []
    for h in range(3):
        sl = slice(4 * h, 4 * h + 4)
        s = q[:, :nq, sl] @ k[:, :, sl].transpose(1, 2) / math.sqrt(4)
        s = s.masked_fill(pad[:, None, :], -math.inf)
        w = torch.nan_to_num(s.softmax(-1))  # a query with no key attends to nothing
        heads.append(dropout(w, 0.3, True) @ v[:, :, sl])
    ref = att.out(torch.cat(heads, dim=-1))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1], att.out.bias.expand(nq, 6))
    params = [x, att.qkv.weight, att.qkv.bias]
    grads = torch.autograd.grad(out[0].square().sum(), params, retain_graph=True)
    ref_grads = torch.autograd.grad(ref[0].square().sum(), params)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)
    grads = torch.autograd.grad(out[1].square().sum(), params)  # the query with no key
    assert all(torch.isfinite(g).all() for g in grads) and not grads[0].any()
    torch.manual_seed(7)
    assert not torch.allclose(att.eval()(x, pad, num_queries=num_queries), out)


def test_ema_update_matches_the_formula():
    torch.manual_seed(0)
    cb = EMACodebook(num_codes=3, dim=2, decay=0.9, eps=1e-5)
    codes0, size0, sum0 = cb.codes.clone(), cb.cluster_size.clone(), cb.code_sum.clone()
    x = torch.randn(7, 2)
    idx = cb.update(x)
    assert torch.equal(idx, torch.cdist(x, codes0).argmin(1))
    counts = torch.bincount(idx, minlength=3).float()
    sums = torch.zeros(3, 2).index_add_(0, idx, x)
    size = 0.9 * size0 + 0.1 * counts
    total = size.sum()
    smoothed = (size + 1e-5) / (total + 3 * 1e-5) * total
    torch.testing.assert_close(cb.cluster_size, size)
    torch.testing.assert_close(cb.codes, (0.9 * sum0 + 0.1 * sums) / smoothed[:, None])
    cb.eval()
    before = cb.codes.clone()
    cb.update(torch.randn(4, 2))
    assert torch.equal(cb.codes, before)  # no update outside training


def test_codebook_collapses_to_identical_points():
    cb = EMACodebook(num_codes=4, dim=3, decay=0.5)
    point = torch.tensor([[1.0, -2.0, 0.5]])
    for _ in range(60):
        cb.update(point.expand(16, 3))
    used = cb.cluster_size.argmax()
    torch.testing.assert_close(cb.codes[used], point[0], atol=1e-4, rtol=1e-4)


def test_codebook_checks_the_point_size():
    with pytest.raises(ValueError, match=r"shape \[n, 3\]"):
        EMACodebook(4, 3)(torch.randn(5, 2))
    with pytest.raises(ValueError, match="decay"):
        EMACodebook(4, 3, decay=1.0)


def test_a_single_point_batch_uses_running_statistics():
    cb = EMACodebook(num_codes=2, dim=3)
    out = cb(torch.ones(1, 3))
    torch.testing.assert_close(out, torch.ones(1, 3) / math.sqrt(1 + cb.norm.eps))
