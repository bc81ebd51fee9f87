"""pair_product against the plain gather-and-multiply, values and gradients."""
import pytest
import torch

import glt.ops.pair as pair
from glt.ops import pair_product


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_pairs", [0, 7, 5000])  # 5000 x 64 runs on the thread pool
def test_equals_gather_and_multiply(dtype, num_pairs):
    torch.manual_seed(0)
    h = torch.randn(50, 64, dtype=dtype, requires_grad=True)
    pairs = torch.randint(0, 50, (num_pairs, 2))
    grad = torch.randn(num_pairs, 64, dtype=dtype)
    out = pair_product(h, pairs)
    out.backward(grad)
    ours = h.grad.clone()
    h.grad = None
    ref = h[pairs[:, 0]] * h[pairs[:, 1]]
    ref.backward(grad)
    tol = 1e-5 if dtype == torch.float32 else 1e-12  # sums of ~200 terms in another order
    assert out.dtype == dtype and torch.allclose(out, ref, atol=tol)
    assert torch.allclose(ours, h.grad, rtol=tol, atol=10 * tol)


def test_gradcheck_and_self_pairs():
    h = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    pairs = torch.tensor([[0, 1], [2, 2], [1, 0], [5, 3]])  # a self-pair counts twice
    assert torch.autograd.gradcheck(lambda t: pair_product(t, pairs), (h,))


def test_fallback_when_accumulators_would_be_large(monkeypatch):
    monkeypatch.setattr(pair, "_MAX_ACCUMULATOR_BYTES", 0)
    h = torch.randn(10, 4, requires_grad=True)
    pairs = torch.randint(0, 10, (30, 2))
    pair_product(h, pairs).sum().backward()
    ours = h.grad.clone()
    h.grad = None
    (h[pairs[:, 0]] * h[pairs[:, 1]]).sum().backward()
    assert torch.allclose(ours, h.grad, atol=1e-6)


def test_bad_inputs():
    h = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"expected pairs to have shape \[M, 2\], got \(3,\)"):
        pair_product(h, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"expected pairs\[:, 1\] to hold ids below 4, got 4"):
        pair_product(h, torch.tensor([[0, 4]]))
    with pytest.raises(ValueError, match="expected h to be 2-D"):
        pair_product(torch.randn(4), torch.tensor([[0, 1]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(0, 5), (3, 1), (300, 40)])  # 300 x 40 x 16: thread pool
def test_gather_dot_equals_the_dense_product(dtype, shape):
    from glt.ops import gather_dot
    torch.manual_seed(1)
    u = torch.randn(shape[0], 16, dtype=dtype, requires_grad=True)
    table = torch.randn(70, 16, dtype=dtype, requires_grad=True)
    idx = torch.randint(0, 70, shape)
    grad = torch.randn(shape, dtype=dtype)
    out = gather_dot(u, table, idx)
    out.backward(grad)
    ours = u.grad.clone(), table.grad.clone()
    u.grad = table.grad = None
    ref = (u @ table.t()).gather(1, idx)
    ref.backward(grad)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(out, ref, rtol=tol, atol=10 * tol)
    assert torch.allclose(ours[0], u.grad, rtol=tol, atol=10 * tol)
    assert torch.allclose(ours[1], table.grad, rtol=tol, atol=10 * tol)


def test_gather_dot_gradcheck_fallback_and_errors(monkeypatch):
    from glt.ops import gather_dot
    u = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    table = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[0, 5], [2, 2], [1, 0], [5, 5]])
    assert torch.autograd.gradcheck(lambda a, b: gather_dot(a, b, idx), (u, table))
    monkeypatch.setattr(pair, "_MAX_ACCUMULATOR_BYTES", 0)
    assert torch.autograd.gradcheck(lambda a, b: gather_dot(a, b, idx), (u, table))
    with pytest.raises(ValueError, match=r"expected idx to have shape \[4, M\], got \(3, 2\)"):
        gather_dot(u, table, idx[:3])
    with pytest.raises(ValueError, match="expected idx to hold ids below 6, got 6"):
        gather_dot(u, table, idx + 1)
    with pytest.raises(ValueError, match="of one width"):
        gather_dot(u, table[:, :2], idx)


def test_gather_dot_keeps_nan_and_inf():
    # the kernel sums in any order (vectorised) but must not assume finite values
    from glt.ops import gather_dot
    u = torch.ones(300, 16)
    table = torch.ones(70, 16)
    table[3, 5], table[4, 0] = float("nan"), float("inf")
    idx = torch.randint(0, 70, (300, 40))
    idx[0, 0], idx[1, 1] = 3, 4
    out = gather_dot(u, table, idx)
    assert torch.equal(torch.isnan(out), idx == 3)
    assert torch.equal(torch.isinf(out), idx == 4)


def test_gather_dot_gradient_of_one_operand_only():
    from glt.ops import gather_dot
    torch.manual_seed(2)
    u, table = torch.randn(300, 16), torch.randn(70, 16)
    idx = torch.randint(0, 70, (300, 40))
    for needs in ((True, False), (False, True)):
        a, b = u.clone().requires_grad_(needs[0]), table.clone().requires_grad_(needs[1])
        gather_dot(a, b, idx).sum().backward()
        ref_a, ref_b = u.clone().requires_grad_(needs[0]), table.clone().requires_grad_(needs[1])
        (ref_a @ ref_b.t()).gather(1, idx).sum().backward()
        for ours, ref in ((a, ref_a), (b, ref_b)):
            assert (ours.grad is None) == (ref.grad is None)
            if ours.grad is not None:
                assert torch.allclose(ours.grad, ref.grad, rtol=1e-5, atol=1e-4)
