import pytest
import torch
from torch_geometric.utils import scatter as pyg_scatter

from glt import CSRGraph
from glt.ops import spmm

REDUCES = ["sum", "mean", "max", "min"]


def random_graph(num_nodes=12, num_edges=50, seed=0, weighted=True, num_cols=None):
    gen = torch.Generator().manual_seed(seed)
    cols = num_cols or num_nodes
    edge_index = torch.stack([torch.randint(0, num_nodes - 2, (num_edges,), generator=gen),
                              torch.randint(0, cols, (num_edges,), generator=gen)])
    weight = torch.rand(num_edges, generator=gen, dtype=torch.float64) if weighted else None
    return CSRGraph.from_edge_index(edge_index, num_nodes, weight, num_cols=cols)


def test_sum_equals_dense_product(code_path, device):
    graph = random_graph(num_cols=7).to(device)
    x = torch.randn(7, 4, dtype=torch.float64, device=device)
    dense = torch.zeros(12, 7, dtype=torch.float64, device=device)
    dense.index_put_((graph.row(), graph.col), graph.edge_weight, accumulate=True)
    torch.testing.assert_close(spmm(graph, x), dense @ x)


@pytest.mark.parametrize("reduce", REDUCES)
def test_matches_pyg_gather_scatter(reduce, code_path):
    graph = random_graph()
    x = torch.randn(12, 3, dtype=torch.float64)
    msg = x[graph.col] * graph.edge_weight.unsqueeze(-1)
    torch.testing.assert_close(spmm(graph, x, reduce),
                               pyg_scatter(msg, graph.row(), 0, 12, reduce))


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck_features_and_weights(reduce, code_path):
    graph = random_graph(seed=3)
    x = torch.randn(12, 3, dtype=torch.float64, requires_grad=True)
    w = graph.edge_weight.clone().requires_grad_()

    def f(x, w):
        return spmm(graph.with_edge_weight(w), x, reduce)
    assert torch.autograd.gradcheck(f, (x, w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [1, 3, 17, 100])
@pytest.mark.parametrize("reduce", REDUCES)
def test_wide_rows_on_a_graph_longer_than_the_prefetch_distance(reduce, width, dtype):
    """Rows of any width (not whole cache lines), thousands of entries: the Numba
    kernels' prefetching path (entries ``AHEAD`` ahead) gives the gather-scatter result."""
    graph = random_graph(num_nodes=300, num_edges=5000, seed=5, num_cols=200)
    x = torch.randn(200, width, dtype=dtype)
    msg = x[graph.col] * graph.edge_weight.to(dtype).unsqueeze(-1)
    torch.testing.assert_close(spmm(graph, x, reduce),
                               pyg_scatter(msg, graph.row(), 0, 300, reduce))


def test_multi_dimensional_features():
    graph = random_graph(weighted=False)
    x = torch.randn(12, 2, 3)
    torch.testing.assert_close(spmm(graph, x).reshape(12, 6), spmm(graph, x.reshape(12, 6)))


def test_duplicate_edges_and_self_loops_count_like_dense():
    edge_index = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 0]])
    graph = CSRGraph.from_edge_index(edge_index, 2)
    x = torch.tensor([[1.0], [10.0]])
    assert spmm(graph, x).flatten().tolist() == [20.0, 11.0]
    assert spmm(graph, x, "mean").flatten().tolist() == [10.0, 5.5]


def test_backward_reuses_cached_transpose():
    graph = random_graph(weighted=False)
    x = torch.randn(12, 2, requires_grad=True)
    spmm(graph, x).sum().backward()
    colptr = graph.csc()[0]
    spmm(graph, x).sum().backward()
    assert graph.csc()[0] is colptr


def test_bad_input():
    graph = random_graph()
    with pytest.raises(ValueError, match="expected x to have 12 rows, got 5"):
        spmm(graph, torch.randn(5, 2))
    with pytest.raises(ValueError, match="expected x to be a floating-point tensor"):
        spmm(graph, torch.ones(12, 2, dtype=torch.long))


def test_matches_torch_scatter_backend():
    pytest.importorskip("torch_scatter")
    from glt.ops import use_backend
    graph = random_graph()
    x = torch.randn(12, 3, dtype=torch.float64, requires_grad=True)
    for reduce in REDUCES:
        ours = spmm(graph, x, reduce)
        (g1,) = torch.autograd.grad(ours.sum(), x)
        with use_backend("torch_scatter"):
            theirs = spmm(graph, x, reduce)
            (g2,) = torch.autograd.grad(theirs.sum(), x)
        torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(g1, g2)


def test_sparse_x_gets_a_clear_error():
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), 2)
    with pytest.raises(ValueError, match="expected x to be a dense tensor, got layout"):
        spmm(graph, torch.eye(2).to_sparse_csr())


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_selected_rows_equal_the_rows_of_the_dense_product(reduce, weighted, code_path):
    """``rows=``: the selected rows of the whole product, in the order asked (repeats
    and empty rows included), with gradients in ``x`` and the weights equal to
    those of indexing the whole product; on a graph longer than the prefetch
    distance so the skipped rows of the backward are crossed."""
    graph = random_graph(num_nodes=300, num_edges=5000, seed=7, weighted=weighted,
                         num_cols=200)
    rows = torch.tensor([5, 299, 0, 5, 120, 298])  # 298, 299: no entries
    x = torch.randn(200, 3, dtype=torch.float64, requires_grad=True)
    w = graph.edge_weight.clone().requires_grad_() if weighted else None
    g = graph.with_edge_weight(w) if weighted else graph
    out = spmm(g, x, reduce, rows=rows)
    whole = spmm(g, x, reduce)[rows]
    torch.testing.assert_close(out, whole)
    probe = torch.randn_like(out)
    inputs = (x, w) if weighted else (x,)
    mine = torch.autograd.grad((out * probe).sum(), inputs)
    ref = torch.autograd.grad((whole * probe).sum(), inputs)
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a, b)


def test_selected_rows_are_checked():
    graph = random_graph()
    x = torch.randn(12, 2)
    with pytest.raises(ValueError, match="rows"):
        spmm(graph, x, rows=torch.tensor([12]))
    with pytest.raises(ValueError, match="rows"):
        spmm(graph, x, rows=torch.tensor([0.0]))
    assert spmm(graph, x, rows=torch.tensor([], dtype=torch.long)).shape == (0, 2)
