"""softplus_dot_loss against torch's softplus over the dense products, in float64."""
import numba
import pytest
import torch
import torch.nn.functional as F

from glt.ops import softplus_dot_loss


def _reference(u, table, idx, weight, positives):
    """The loss, dL/du and dL/dtable from the dense products, in float64."""
    u64 = u.detach().double().requires_grad_()
    t64 = table.detach().double().requires_grad_()
    sign = torch.ones(idx.size(1), dtype=torch.float64)
    sign[:positives] = -1
    scores = (u64 @ t64.t()).gather(1, idx)
    loss = (weight.double() * F.softplus(scores * sign)).sum()
    loss.backward()
    return loss.detach(), u64.grad, t64.grad


def _ours(u, table, idx, weight, positives, scale=1.0):
    u, table = u.clone().requires_grad_(), table.clone().requires_grad_()
    loss = softplus_dot_loss(u, table, idx, weight, positives)
    (loss * scale).backward()
    return loss.detach(), u.grad / scale, table.grad / scale


@pytest.mark.parametrize("shape,positives", [((3, 1), 1), ((300, 40), 11), ((300, 40), 0),
                                             ((40, 25), 25), ((0, 4), 2)])
@pytest.mark.parametrize("spread", [0.3, 8.0])  # products up to about +-200 with 8.0
def test_equals_the_dense_reference(shape, positives, spread):
    torch.manual_seed(0)
    u, table = torch.randn(shape[0], 16) * spread, torch.randn(70, 16) * spread / 4
    idx = torch.randint(0, 70, shape)
    weight = torch.rand(shape)
    loss, grad_u, grad_table = _ours(u, table, idx, weight, positives, scale=3.0)
    ref = _reference(u, table, idx, weight, positives)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss.double(), ref[0], rtol=2e-6, atol=1e-6)
    for ours, expected in ((grad_u, ref[1]), (grad_table, ref[2])):  # float32 sums
        atol = 1e-5 * (1 + expected.abs().max().item()) if expected.numel() else 0
        torch.testing.assert_close(ours.double(), expected, rtol=1e-5, atol=atol)


def test_each_term_is_softplus_and_its_derivative():
    # one product per call, x = the product: softplus(-x) for a positive column,
    # softplus(x) for a negative one, across float32's range and the clamp at -87
    xs = torch.cat([torch.linspace(-120, 120, 481), torch.linspace(-1e-3, 1e-3, 21),
                    torch.tensor([-87.5, -87.0, -86.9, 88.0, 1e-30, -1e-30])])
    for positives in (0, 1):
        for x in xs:
            u, table = torch.ones(1, 1), x.view(1, 1)
            loss, _, grad_table = _ours(u, table, torch.zeros(1, 1, dtype=torch.long),
                                        torch.ones(1, 1), positives)
            sign = -1.0 if positives else 1.0
            x64 = x.double() * sign
            assert torch.isclose(loss.double(), F.softplus(x64), rtol=3e-7, atol=1e-38), x
            assert torch.isclose(grad_table.double().squeeze(), sign * torch.sigmoid(x64),
                                 rtol=3e-7, atol=1e-38), x


def test_the_thread_count_changes_only_the_rounding():
    torch.manual_seed(1)
    u, table = torch.randn(400, 32), torch.randn(90, 32)
    idx, weight = torch.randint(0, 90, (400, 50)), torch.rand(400, 50)
    threads = numba.get_num_threads()
    runs = []
    for count in sorted({1, threads}):
        numba.set_num_threads(count)
        try:
            runs.append(_ours(u, table, idx, weight, 3))
        finally:
            numba.set_num_threads(threads)
    for run in runs[1:]:  # the loss and the table's gradient: per-thread partial sums
        torch.testing.assert_close(run[0], runs[0][0])
        assert torch.equal(run[1], runs[0][1])
        torch.testing.assert_close(run[2], runs[0][2])


def test_nan_and_inf_products_are_kept():
    u, table = torch.ones(300, 16), torch.ones(70, 16)
    idx = torch.randint(0, 70, (300, 40))
    idx[0, 0] = 3
    table[3, 5] = float("nan")
    loss, grad_u, _ = _ours(u, table, idx, torch.ones(300, 40), 1)
    assert torch.isnan(loss) and torch.isnan(grad_u[0]).all()
    table[3, 5] = float("inf")
    loss, _, _ = _ours(u, table, idx, torch.ones(300, 40), 1)
    assert not torch.isfinite(loss)


def test_other_dtypes_take_the_reference_formula():
    torch.manual_seed(2)
    u = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    table = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    idx, weight = torch.randint(0, 6, (5, 4)), torch.rand(5, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: softplus_dot_loss(a, b, idx, weight, 2),
                                    (u, table))
    ref = _reference(u, table, idx, weight, 2)
    torch.testing.assert_close(softplus_dot_loss(u, table, idx, weight, 2), ref[0])


def test_a_weight_that_requires_a_gradient_gets_it():
    torch.manual_seed(4)
    u, table, idx = torch.randn(300, 16), torch.randn(70, 16), torch.randint(0, 70, (300, 40))
    weight = torch.rand(300, 40, requires_grad=True)
    softplus_dot_loss(u, table, idx, weight, 1).backward()
    sign = torch.ones(40)
    sign[0] = -1
    expected = F.softplus((u @ table.t()).gather(1, idx) * sign)  # dL/dweight: the terms
    torch.testing.assert_close(weight.grad, expected, rtol=1e-5, atol=1e-6)


def test_gradient_of_one_operand_only():
    torch.manual_seed(3)
    u, table = torch.randn(300, 16), torch.randn(70, 16)
    idx, weight = torch.randint(0, 70, (300, 40)), torch.rand(300, 40)
    ref = _reference(u, table, idx, weight, 1)
    for needs in ((True, False), (False, True)):
        a, b = u.clone().requires_grad_(needs[0]), table.clone().requires_grad_(needs[1])
        softplus_dot_loss(a, b, idx, weight, 1).backward()
        for ours, expected, need in ((a, ref[1], needs[0]), (b, ref[2], needs[1])):
            assert (ours.grad is not None) == need
            if need:
                torch.testing.assert_close(ours.grad.double(), expected, rtol=1e-5, atol=1e-5)


def test_bad_inputs():
    u, table = torch.randn(4, 3), torch.randn(6, 3)
    idx, weight = torch.randint(0, 6, (4, 2)), torch.rand(4, 2)
    with pytest.raises(ValueError, match=r"weight of the shape of idx, \(4, 2\), got \(4, 3\)"):
        softplus_dot_loss(u, table, idx, torch.rand(4, 3), 1)
    with pytest.raises(ValueError, match="0 <= positives <= 2"):
        softplus_dot_loss(u, table, idx, weight, 3)
    with pytest.raises(ValueError, match="expected idx to hold ids below 6, got 6"):
        softplus_dot_loss(u, table, torch.full((4, 2), 6), weight, 1)
    with pytest.raises(ValueError, match=r"expected idx to have shape \[4, M\]"):
        softplus_dot_loss(u, table, idx[:3], weight, 1)
    with pytest.raises(ValueError, match="of one width"):
        softplus_dot_loss(u, table[:, :2], idx, weight, 1)
