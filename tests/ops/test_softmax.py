import torch
from torch_geometric.utils import softmax as pyg_softmax

from glt.ops import scatter_softmax, segment_softmax


def test_scatter_softmax_matches_pyg_and_sums_to_one():
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(30, 2, generator=gen, dtype=torch.float64) * 50  # large: needs the max shift
    index = torch.randint(0, 6, (30,), generator=gen)
    out = scatter_softmax(src, index, 8)
    torch.testing.assert_close(out, pyg_softmax(src, index, num_nodes=8))
    sums = torch.zeros(8, 2, dtype=torch.float64).index_add_(0, index, out)
    present = torch.bincount(index, minlength=8) > 0
    torch.testing.assert_close(sums[present], torch.ones_like(sums[present]))


def test_segment_softmax_equals_scatter_softmax_and_has_gradients():
    src = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    ptr = torch.tensor([0, 3, 3, 10])
    group = torch.tensor([0, 0, 0, 2, 2, 2, 2, 2, 2, 2])
    torch.testing.assert_close(segment_softmax(src, ptr), scatter_softmax(src, group, 3))
    assert torch.autograd.gradcheck(lambda s: segment_softmax(s, ptr), (src,))
