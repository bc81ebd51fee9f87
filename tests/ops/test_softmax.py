import pytest
import torch
from torch_geometric.utils import softmax as pyg_softmax

from glt.ops import _csr, scatter_softmax, segment_softmax


def test_scatter_softmax_matches_pyg_and_sums_to_one():
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(30, 2, generator=gen, dtype=torch.float64) * 50  # large: needs the max shift
    index = torch.randint(0, 6, (30,), generator=gen)
    out = scatter_softmax(src, index, 8)
    torch.testing.assert_close(out, pyg_softmax(src, index, num_nodes=8))
    sums = torch.zeros(8, 2, dtype=torch.float64).index_add_(0, index, out)
    present = torch.bincount(index, minlength=8) > 0
    torch.testing.assert_close(sums[present], torch.ones_like(sums[present]))


@pytest.mark.parametrize("shape", [(10,), (10, 3), (10, 2, 2)])
def test_segment_softmax_equals_scatter_softmax_and_has_gradients(code_path, shape):
    gen = torch.Generator().manual_seed(0)
    src = (torch.randn(*shape, generator=gen, dtype=torch.float64) * 50).requires_grad_()
    ptr = torch.tensor([0, 3, 3, 10])  # an empty run in the middle
    group = torch.tensor([0, 0, 0, 2, 2, 2, 2, 2, 2, 2])
    out = segment_softmax(src, ptr)
    assert out.shape == src.shape
    torch.testing.assert_close(out, scatter_softmax(src, group, 3))
    torch.testing.assert_close(out, pyg_softmax(src, ptr=ptr))
    assert torch.autograd.gradcheck(lambda s: segment_softmax(s, ptr), (src,))


def test_segment_softmax_float32_paths_agree(monkeypatch):
    """glt's CPU kernels against the portable path, values and gradients."""
    gen = torch.Generator().manual_seed(1)
    counts = torch.randint(0, 6, (200,), generator=gen)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    src = torch.randn(int(ptr[-1]), 4, generator=gen, requires_grad=True)
    grad = torch.randn(src.shape, generator=gen)
    out = segment_softmax(src, ptr)
    (g_kernel,) = torch.autograd.grad(out, src, grad)
    monkeypatch.setattr(_csr, "USE_NUMBA", False)
    ref = segment_softmax(src, ptr)
    (g_ref,) = torch.autograd.grad(ref, src, grad)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g_kernel, g_ref)
