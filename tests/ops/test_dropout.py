import pytest
import torch
import torch.nn.functional as F

from glt.ops import dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(300, 200)
    y = dropout(x, p)
    zero = (y == 0).double().mean()
    assert abs(float(zero) - p) < 4 * (p * (1 - p) / x.numel()) ** 0.5 + 1e-3
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))


def test_gradient_uses_the_same_mask():
    x = torch.randn(100, 64, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.4)
    y.sum().backward()
    expected = (y.detach() != 0).double() / 0.6
    assert torch.equal(x.grad, expected)


def test_seeded_and_fresh_each_call():
    x = torch.rand(64, 128)
    torch.manual_seed(3)
    a = dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.5))
    assert not torch.equal(a, dropout(x, 0.5))


def test_eval_small_and_bad_input():
    x = torch.rand(100, 100)
    assert dropout(x, 0.5, training=False) is x
    small = torch.ones(10)
    torch.manual_seed(0)
    ref = F.dropout(small, 0.5, True)
    torch.manual_seed(0)
    assert torch.equal(dropout(small, 0.5), ref)  # small inputs: torch's dropout
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match=r"dropout probability in \[0, 1\], got 1.5"):
        dropout(x, 1.5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(300, 97), (7, 1001)])
def test_sparse_csr_gets_the_dense_mask(dtype, shape):
    torch.manual_seed(0)
    x = (torch.rand(shape) * (torch.rand(shape) < 0.05)).to(dtype)
    torch.manual_seed(4)
    dense = dropout(x, 0.6)
    torch.manual_seed(4)
    sparse = dropout(x.to_sparse_csr(), 0.6)
    assert sparse.layout == torch.sparse_csr
    assert torch.equal(sparse.crow_indices(), x.to_sparse_csr().crow_indices())
    assert torch.equal(sparse.to_dense(), dense)
    assert dropout(x.to_sparse_csr(), 0.6, training=False).layout == torch.sparse_csr
    assert torch.equal(dropout(x.to_sparse_csr(), 1.0).to_dense(), torch.zeros_like(x))


def test_sparse_csr_that_requires_grad_is_refused():
    x = torch.eye(70).to_sparse_csr().requires_grad_()
    with pytest.raises(ValueError, match="treats it as constant input features"):
        dropout(x, 0.5)
