import importlib

import pytest
import torch
import torch.nn.functional as F

from glt.ops import dropout, linear

linear_module = importlib.import_module("glt.ops.linear")  # the module, not the function


def sparse_input(n=30, f=12, density=0.2, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    dense = torch.rand(n, f, generator=gen, dtype=dtype)
    dense = dense * (torch.rand(n, f, generator=gen) < density)
    return dense, dense.to_sparse_csr()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("with_bias", [False, True])
def test_sparse_features_match_the_dense_product(dtype, with_bias):
    dense, sparse = sparse_input(dtype=dtype)
    weight = torch.randn(5, 12, dtype=dtype, requires_grad=True)
    bias = torch.randn(5, dtype=dtype, requires_grad=True) if with_bias else None
    grad = torch.randn(30, 5, dtype=dtype)
    out = linear(sparse, weight, bias)
    ref = F.linear(dense, weight, bias)
    torch.testing.assert_close(out, ref)
    params = [weight] + ([bias] if with_bias else [])
    ours = torch.autograd.grad(out, params, grad)
    theirs = torch.autograd.grad(ref, params, grad)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_dropped_features_reuse_the_pattern_and_new_patterns_get_theirs():
    dense, sparse = sparse_input(seed=1)
    weight = torch.randn(4, 12, requires_grad=True)
    grad = torch.randn(30, 4)
    for seed in range(3):  # dropout keeps the pattern: one transpose serves every draw
        torch.manual_seed(seed)
        dropped = dropout(sparse, 0.5, True)
        (ours,) = torch.autograd.grad(linear(dropped, weight), weight, grad)
        (ref,) = torch.autograd.grad(F.linear(dropped.to_dense(), weight), weight, grad)
        torch.testing.assert_close(ours, ref)
    for seed in range(2, 2 + linear_module._KEEP + 2):  # more patterns than are kept
        other_dense, other = sparse_input(seed=seed)
        (ours,) = torch.autograd.grad(linear(other, weight), weight, grad)
        (ref,) = torch.autograd.grad(F.linear(other_dense, weight), weight, grad)
        torch.testing.assert_close(ours, ref)
    assert len(linear_module._TRANSPOSES) == linear_module._KEEP


def test_other_inputs_go_to_torch():
    dense, sparse = sparse_input()
    weight = torch.randn(3, 12)
    torch.testing.assert_close(linear(dense, weight), F.linear(dense, weight))
    trainable = sparse.clone().requires_grad_()  # gradients for the features: torch's
    torch.testing.assert_close(linear(trainable, weight), F.linear(dense, weight))
    # a width that does not fit the weight is named, whatever the layout of x
    for x in (sparse, dense, dense[0]):
        with pytest.raises(ValueError, match=r"expected x \[\.\.\., 7\] for a weight of "
                                             r"shape \(3, 7\) \(input width 7\), got x of "
                                             r"shape \((30, 12|12,)\)"):
            linear(x, torch.randn(3, 7))
