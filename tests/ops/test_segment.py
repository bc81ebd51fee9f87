import pytest
import torch

from glt.ops import scatter, segment

REDUCES = ["sum", "mean", "max", "min"]


@pytest.mark.parametrize("reduce", REDUCES)
def test_equals_scatter_over_sorted_groups(reduce, code_path, device):
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(60, 5, generator=gen).to(device)
    ptr = torch.tensor([0, 0, 7, 7, 30, 31, 60], device=device)  # empty segments included
    group = torch.repeat_interleave(torch.arange(6, device=device), ptr.diff())
    torch.testing.assert_close(segment(src, ptr, reduce), scatter(src, group, 6, reduce))


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(reduce, code_path):
    src = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    ptr = torch.tensor([0, 4, 4, 11, 20])
    assert torch.autograd.gradcheck(lambda s: segment(s, ptr, reduce), (src,))


def test_arg_is_position_in_src():
    src = torch.tensor([[1.0], [9.0], [3.0], [2.0]])
    out, arg = segment(src, torch.tensor([0, 2, 2, 4]), "max", return_arg=True)
    assert out.flatten().tolist() == [9.0, 0.0, 3.0]
    assert arg.flatten().tolist() == [1, 4, 2]


@pytest.mark.parametrize("reduce", REDUCES)
def test_matches_torch_scatter_segment_csr(reduce):
    torch_scatter = pytest.importorskip("torch_scatter")
    src = torch.randn(50, 3)
    ptr = torch.tensor([0, 10, 10, 25, 50])
    ref = torch_scatter.segment_csr(src, ptr, reduce=reduce)
    ref = ref[0] if isinstance(ref, tuple) else ref
    torch.testing.assert_close(segment(src, ptr, reduce), ref)


@pytest.mark.parametrize("ptr, match", [
    (torch.tensor([1, 3]), "expected ptr to run from 0 to 3, got 1 to 3"),
    (torch.tensor([0, 2]), "expected ptr to run from 0 to 3, got 0 to 2"),
    (torch.tensor([0, 2, 1, 3]), "expected ptr to be non-decreasing"),
    (torch.tensor([0.0, 3.0]), "expected ptr to be an integer tensor"),
    (torch.tensor([[0, 3]]), "expected ptr to be 1-D"),
])
def test_bad_ptr(ptr, match):
    with pytest.raises(ValueError, match=match):
        segment(torch.ones(3, 1), ptr)


def test_arg_matches_torch_scatter_backend():
    pytest.importorskip("torch_scatter")
    from glt.ops import use_backend
    src = torch.randn(30, 2)
    ptr = torch.tensor([0, 5, 5, 30])
    ours = segment(src, ptr, "min", return_arg=True)
    with use_backend("torch_scatter"):
        theirs = segment(src, ptr, "min", return_arg=True)
    torch.testing.assert_close(ours, theirs)
