import pytest
import torch
from torch_geometric.utils import scatter as pyg_scatter

from glt.ops import scatter, sort_index

REDUCES = ["sum", "mean", "max", "min"]


def dense_reference(src, index, n, reduce):
    """Loop-over-groups oracle (0 for empty groups)."""
    out = torch.zeros(n, *src.shape[1:], dtype=src.dtype)
    for i in range(n):
        rows = src[index == i]
        if len(rows):
            out[i] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values,
                      "min": rows.min(0).values}[reduce]
    return out


def test_hand_checked_sum_and_max():
    src = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    index = torch.tensor([0, 2, 0, 2])
    assert scatter(src, index, 4).flatten().tolist() == [4.0, 0.0, 6.0, 0.0]
    out, arg = scatter(src, index, 4, "max", return_arg=True)
    assert out.flatten().tolist() == [3.0, 0.0, 4.0, 0.0]
    assert arg.flatten().tolist() == [2, 4, 3, 4]  # empty groups point past the end


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_dense_reference_and_pyg(reduce, dtype, code_path, device):
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(200, 3, 2, generator=gen, dtype=dtype)
    index = torch.randint(0, 30, (200,), generator=gen)  # some of 40 groups stay empty
    out = scatter(src.to(device), index.to(device), 40, reduce).cpu()
    torch.testing.assert_close(out, dense_reference(src, index, 40, reduce))
    torch.testing.assert_close(out, pyg_scatter(src, index, 0, 40, reduce))


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(reduce, code_path):
    gen = torch.Generator().manual_seed(1)
    src = torch.randn(40, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, 8, (40,), generator=gen)
    assert torch.autograd.gradcheck(lambda s: scatter(s, index, 10, reduce), (src,))


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_tied_values_send_gradient_to_the_arg_row_only(reduce, code_path):
    src = torch.tensor([[5.0], [5.0], [1.0]], requires_grad=True)
    out, arg = scatter(src, torch.tensor([0, 0, 0]), 1, reduce, return_arg=True)
    out.sum().backward()
    winner = 0 if reduce == "max" else 2
    assert arg.item() == winner
    expected = torch.zeros(3, 1)
    expected[winner] = 1.0
    assert torch.equal(src.grad, expected)


def test_arg_matches_torch_scatter_convention():
    torch_scatter = pytest.importorskip("torch_scatter")
    gen = torch.Generator().manual_seed(2)
    src = torch.randn(100, 4, generator=gen)
    index = torch.randint(0, 20, (100,), generator=gen)
    out, arg = scatter(src, index, 25, "max", return_arg=True)
    ref_out, ref_arg = torch_scatter.scatter_max(src, index, 0, dim_size=25)
    torch.testing.assert_close(out, ref_out)
    assert torch.equal(arg, ref_arg)


def test_default_dim_size_and_empty_input():
    assert scatter(torch.ones(3, 2), torch.tensor([0, 4, 4])).shape == (5, 2)
    empty = scatter(torch.empty(0, 2), torch.empty(0, dtype=torch.long), 3, "max")
    assert torch.equal(empty, torch.zeros(3, 2))


def test_sort_index_is_stable_counting_sort():
    index = torch.tensor([2, 0, 2, 1, 0])
    ptr, perm = sort_index(index, 4)
    assert ptr.tolist() == [0, 2, 3, 5, 5]
    assert perm.tolist() == [1, 4, 3, 0, 2]


@pytest.mark.parametrize("index, match", [
    (torch.tensor([0.0, 1.0]), "expected index to be an integer tensor"),
    (torch.tensor([0, -1]), "expected index to hold non-negative ids, got -1"),
    (torch.tensor([0, 5]), "expected index to hold ids below 3, got 5"),
    (torch.tensor([0, 1, 2]), "expected index to have 2 entries"),
    (torch.tensor([[0, 1]]), "expected index to be 1-D"),
])
def test_bad_index(index, match):
    with pytest.raises(ValueError, match=match):
        scatter(torch.ones(2, 1), index, 3)


def test_bad_src_and_reduce():
    with pytest.raises(ValueError, match="expected src to be a floating-point tensor"):
        scatter(torch.ones(2, 1, dtype=torch.long), torch.tensor([0, 1]), 2)
    with pytest.raises(ValueError, match="expected reduce to be one of"):
        scatter(torch.ones(2, 1), torch.tensor([0, 1]), 2, "prod")
    with pytest.raises(ValueError, match="with return_arg=True"):
        scatter(torch.ones(2, 1), torch.tensor([0, 1]), 2, "sum", return_arg=True)
