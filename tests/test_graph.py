import zipfile

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data
from torch_geometric.utils import add_remaining_self_loops, add_self_loops, remove_self_loops

import glt
from glt import CSRGraph

EDGES = torch.tensor([[0, 2, 1, 0, 3, 3], [1, 0, 2, 2, 3, 0]])  # has a self-loop 3->3


def edge_set(edge_index, weight=None):
    cols = edge_index.t().tolist()
    if weight is None:
        return sorted(map(tuple, cols))
    return sorted((a, b, round(float(w), 6)) for (a, b), w in zip(cols, weight))


def dense(graph):
    out = torch.zeros(graph.shape, dtype=torch.float64)
    out.index_put_((graph.row(), graph.col), graph.weights().double(), accumulate=True)
    return out


def test_from_edge_index_builds_sorted_csr():
    g = CSRGraph.from_edge_index(EDGES, 4)
    assert g.rowptr.tolist() == [0, 2, 3, 4, 6]
    assert g.col.tolist() == [1, 2, 2, 0, 3, 0]  # input order kept within a row
    assert g.edge_id.tolist() == [0, 3, 2, 1, 4, 5]
    assert edge_set(g.edge_index()) == edge_set(EDGES)
    assert g.out_degree().tolist() == [2, 1, 1, 2]
    assert g.in_degree().tolist() == [2, 1, 2, 1]
    assert (g.num_nodes, g.num_edges, g.shape) == (4, 6, (4, 4))


def test_num_nodes_default_isolated_nodes_and_empty_graph():
    assert CSRGraph.from_edge_index(EDGES).num_nodes == 4
    g = CSRGraph.from_edge_index(EDGES, 10)
    assert g.out_degree()[4:].tolist() == [0] * 6
    empty = CSRGraph.from_edge_index(torch.empty(2, 0, dtype=torch.long), 3)
    assert empty.rowptr.tolist() == [0, 0, 0, 0] and empty.num_edges == 0
    assert empty.transpose().num_edges == 0
    assert CSRGraph.from_edge_index(torch.empty(2, 0, dtype=torch.long)).num_nodes == 0


def test_transpose_is_dense_transpose_and_cached():
    w = torch.arange(1.0, 7.0)
    g = CSRGraph.from_edge_index(EDGES, 4, w)
    t = g.transpose()
    assert torch.equal(dense(t), dense(g).t())
    assert t is g.transpose() and t.transpose() is g
    colptr, row, perm = g.csc()
    assert torch.equal(g.col[perm], torch.repeat_interleave(torch.arange(4), colptr.diff()))
    assert torch.equal(row, g.row()[perm])
    assert torch.equal(w[t.edge_id], t.edge_weight)  # edge ids still name the input edges


def test_rectangular_graph():
    g = CSRGraph.from_edge_index(torch.tensor([[0, 1, 1], [4, 0, 2]]), 2, num_cols=5)
    assert g.shape == (2, 5)
    assert g.transpose().shape == (5, 2)
    with pytest.raises(ValueError, match="expected a square graph for add_self_loops"):
        g.add_self_loops()


@pytest.mark.parametrize("weighted", [False, True])
def test_submatrix_is_the_dense_block(weighted):
    gen = torch.Generator().manual_seed(0)
    edges = torch.randint(0, 30, (2, 200), generator=gen)  # duplicates and self-loops too
    w = torch.rand(200, generator=gen) if weighted else None
    g = CSRGraph.from_edge_index(edges, 30, w, num_cols=40)
    rows = torch.tensor([7, 0, 29, 7, 12])  # any order, repeats allowed
    cols = torch.randperm(40, generator=gen)[:17]
    sub = g.submatrix(rows, cols)
    assert sub.shape == (5, 17)
    assert torch.equal(dense(sub), dense(g)[rows][:, cols])
    for r in range(5):  # entries keep their order within a row, and their edge ids
        start, end = g.rowptr[rows[r]], g.rowptr[rows[r] + 1]
        expect = g.edge_id[start:end][torch.isin(g.col[start:end], cols)]
        assert torch.equal(sub.edge_id[sub.rowptr[r]:sub.rowptr[r + 1]], expect)
    assert torch.equal(g.submatrix(torch.arange(30), torch.arange(40)).col, g.col)
    assert g.submatrix(torch.tensor([], dtype=torch.long), cols).shape == (0, 17)
    with pytest.raises(ValueError, match="distinct column ids"):
        g.submatrix(rows, torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="rows"):
        g.submatrix(torch.tensor([30]), cols)


def test_self_loop_helpers_match_pyg():
    w = torch.tensor([0.5, 1.0, 1.5, 2.0, 7.0, 3.0])
    g = CSRGraph.from_edge_index(EDGES, 5, w)
    ei, ew = remove_self_loops(EDGES, w)
    r = g.remove_self_loops()
    assert edge_set(r.edge_index(), r.edge_weight) == edge_set(ei, ew)
    ei, ew = add_self_loops(EDGES, w, fill_value=2.0, num_nodes=5)
    a = g.add_self_loops(2.0)
    assert edge_set(a.edge_index(), a.edge_weight) == edge_set(ei, ew)
    ei, ew = add_remaining_self_loops(EDGES, w, fill_value=1.0, num_nodes=5)
    a = g.add_remaining_self_loops(1.0)
    assert edge_set(a.edge_index(), a.edge_weight) == edge_set(ei, ew)
    assert (a.edge_id == -1).sum() == 4  # node 3 kept its own loop (weight 7)


@pytest.mark.parametrize("edge_index, kwargs, match", [
    (EDGES.float(), {}, "expected edge_index\\[0\\] \\(source ids\\) to be an integer tensor"),
    (EDGES[0], {}, "expected edge_index to have shape \\[2, E\\], got \\(6,\\)"),
    (EDGES.t(), {}, "got \\(6, 2\\) \\(one pair per row: pass edge_index.t\\(\\)\\)$"),
    (torch.tensor([[0, 1], [1, 4]]), {"num_nodes": 4},
     "expected edge_index\\[1\\] \\(target ids\\) to hold ids below 4, got 4"),
    (torch.tensor([[0, -1], [1, 2]]), {"num_nodes": 4},
     "expected edge_index\\[0\\] \\(source ids\\) to hold non-negative ids, got -1"),
    (EDGES, {"edge_weight": torch.ones(5)}, "expected edge_weight to have 6 rows, got 5"),
    (EDGES, {"edge_weight": torch.ones(6, dtype=torch.long)},
     "expected edge_weight to be a floating-point tensor"),
])
def test_bad_edge_index(edge_index, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CSRGraph.from_edge_index(edge_index, **kwargs)


def test_constructor_validates_csr_arrays():
    with pytest.raises(ValueError, match="expected rowptr to be non-decreasing"):
        CSRGraph(torch.tensor([0, 2, 1, 3]), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="expected col to hold ids below 3, got 3"):
        CSRGraph(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="expected rowptr to run from 0 to 3"):
        CSRGraph(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))


def test_to_pin_and_share_memory(device):
    g = CSRGraph.from_edge_index(EDGES, 4, torch.rand(6))
    moved = g.to(device)
    assert moved.device.type == device
    assert torch.equal(moved.col.cpu(), g.col)
    assert g.to("cpu") is g
    shared = g.share_memory_()
    assert shared.col.is_shared() and shared.rowptr.is_shared()
    if torch.cuda.is_available():
        assert g.pin_memory().col.is_pinned()


def test_save_load_roundtrip(tmp_path):
    g = CSRGraph.from_edge_index(EDGES, 6, torch.rand(6), num_cols=7)
    path = tmp_path / "g.npz"
    g.save(path)
    h = CSRGraph.load(path)
    for name in ("rowptr", "col", "edge_weight", "edge_id"):
        assert torch.equal(getattr(h, name), getattr(g, name))
    assert h.shape == (6, 7)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSRGraph file at"):
        CSRGraph.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="could not read"):
        CSRGraph.load(bad)
    # a well-formed archive whose rowptr.npy header is damaged ("{" -> "z"): NumPy's
    # header filter raises tokenize.TokenError
    CSRGraph.from_edge_index(EDGES).save(bad)
    with zipfile.ZipFile(bad) as z:
        members = {name: z.read(name) for name in z.namelist()}
    header = members["rowptr.npy"]
    assert header[10:11] == b"{"
    members["rowptr.npy"] = header[:10] + b"z" + header[11:]
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="could not read"):
        CSRGraph.load(bad)


def test_a_pyg_edge_index_subclass_is_stored_as_plain_tensors():
    from torch_geometric import EdgeIndex
    given = EdgeIndex(EDGES, sparse_size=(5, 5))
    g, plain = CSRGraph.from_edge_index(given, 5), CSRGraph.from_edge_index(EDGES, 5)
    for name in ("rowptr", "col", "edge_id"):
        assert type(getattr(g, name)) is torch.Tensor, name
        assert torch.equal(getattr(g, name), getattr(plain, name)), name


def test_pyg_roundtrip():
    data = Data(edge_index=EDGES, num_nodes=5, edge_weight=torch.rand(6))
    g = CSRGraph.from_pyg(data)
    back = g.to_pyg(x=torch.ones(5, 2))
    assert back.num_nodes == 5 and back.x.shape == (5, 2)
    assert edge_set(back.edge_index, back.edge_weight) == edge_set(EDGES, data.edge_weight)


def test_networkx_roundtrip_matches_networkx_adjacency():
    nxg = nx.karate_club_graph()
    g = CSRGraph.from_networkx(nxg, weight="weight")
    expected = torch.from_numpy(nx.to_numpy_array(nxg, weight="weight"))
    assert torch.allclose(dense(g), expected)
    back = g.to_networkx()
    assert back.number_of_edges() == 2 * nxg.number_of_edges()
    assert set(back.successors(0)) == set(nxg.neighbors(0))


def test_from_networkx_directed_with_string_nodes():
    nxg = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "c")])
    g = CSRGraph.from_networkx(nxg)
    assert edge_set(g.edge_index()) == [(0, 1), (1, 2), (2, 2)]
    with pytest.raises(ValueError, match="expected every edge to carry the attribute 'w'"):
        CSRGraph.from_networkx(nxg, weight="w")


def test_to_undirected_matches_pyg():
    from torch_geometric.utils import to_undirected
    ei = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 2, 0, 0]])
    g = CSRGraph.from_edge_index(ei, 5).to_undirected()
    ref = to_undirected(ei, num_nodes=5)
    assert g.edge_index().tolist() == ref.tolist()
    with pytest.raises(ValueError, match="square"):
        CSRGraph.from_edge_index(ei, 4, num_cols=5).to_undirected()


def test_edge_weight_must_be_one_per_edge():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(ValueError, match="expected edge_weight to be 1-D"):
        CSRGraph.from_edge_index(edge_index, 3, edge_weight=torch.ones(3, 2))
    graph = CSRGraph.from_edge_index(edge_index, 3)
    with pytest.raises(ValueError, match="expected edge_weight to be 1-D"):
        graph.with_edge_weight(torch.ones(3, 1))
    with pytest.raises(ValueError, match="expected edge_weight to have 3 rows"):
        graph.with_edge_weight(torch.ones(4))


@pytest.mark.parametrize("num_nodes,error,message", [
    (3.5, TypeError, "expected num_nodes to be an integer, got 3.5"),
    (3.0, TypeError, "expected num_nodes to be an integer, got 3.0"),
    (-1, ValueError, "expected num_nodes to be >= 0, got -1"),
    (True, TypeError, "expected num_nodes to be an integer, got True"),
])
def test_sizes_must_be_non_negative_integers(num_nodes, error, message):
    with pytest.raises(error, match=message):
        CSRGraph.from_edge_index(torch.tensor([[0], [1]]), num_nodes)
    with pytest.raises(error, match=message.replace("num_nodes", "num_cols")):
        CSRGraph.from_edge_index(torch.tensor([[0], [1]]), 3, num_cols=num_nodes)


def test_from_sparse_is_the_matrix_in_every_layout():
    torch.manual_seed(0)
    weight = torch.rand(EDGES.size(1))
    # rectangular, uncoalesced: the entry (0, 1) twice
    coo = torch.sparse_coo_tensor(torch.cat([EDGES, EDGES[:, :1]], 1),
                                  torch.cat([weight, torch.tensor([2.0])]), (4, 5))
    expected = coo.to_dense().double()  # the repeated entry (0, 1) summed, as torch reads it
    for adj in (coo, coo.coalesce().to_sparse_csr(), coo.coalesce().to_sparse_csc()):
        g = CSRGraph.from_sparse(adj)
        assert g.shape == (4, 5) and g.num_edges == 6
        torch.testing.assert_close(dense(g), expected)


def test_from_sparse_checks_what_torch_does_not():
    with torch.sparse.check_sparse_tensor_invariants(False):
        bad = torch.sparse_csr_tensor(torch.tensor([0, 2, 1, 3]), torch.tensor([0, 1, 2]),
                                      torch.ones(3), (3, 3))
        with pytest.raises(ValueError, match="expected rowptr to be non-decreasing"):
            CSRGraph.from_sparse(bad)
        far = torch.sparse_csr_tensor(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 7]),
                                      torch.ones(3), (3, 3))
        with pytest.raises(ValueError, match="expected col to hold ids below 3, got 7"):
            CSRGraph.from_sparse(far)
    with pytest.raises(TypeError, match="expected a torch sparse tensor .*, got torch.strided"):
        CSRGraph.from_sparse(torch.eye(3))
    with pytest.raises(ValueError, match="expected edge_index \\[2, E\\], got a sparse "
                       "torch.sparse_coo adjacency of shape \\(3, 3\\): build its graph with "
                       "CSRGraph.from_sparse"):
        CSRGraph.from_edge_index(torch.eye(3).to_sparse())


def _scipy_oracle():
    """A rectangular COO matrix with a repeated entry (0, 3), an explicit zero
    (1, 0) and rows out of order."""
    import scipy.sparse as sp
    row, col = [2, 0, 1, 0, 2, 2, 0], [1, 3, 0, 3, 4, 0, 0]
    return sp.coo_matrix(([0.5, 1.0, 0.0, 2.0, 1.5, -1.0, 3.0], (row, col)), shape=(3, 5))


def test_from_scipy_reads_stored_entries_as_pyg_does():
    from torch_geometric.utils import from_scipy_sparse_matrix
    matrix = _scipy_oracle()
    g = CSRGraph.from_scipy(matrix)
    edge_index, weight = from_scipy_sparse_matrix(matrix)
    assert g.shape == (3, 5) and g.num_edges == 7
    assert edge_set(g.edge_index(), g.edge_weight) == edge_set(edge_index, weight)
    # within a row, the COO order; edge_id points back into it
    assert torch.equal(edge_index[:, g.edge_id], g.edge_index())
    assert torch.equal(weight[g.edge_id], g.edge_weight)
    x = torch.randn(5, 4, dtype=torch.float64)
    expected = torch.from_numpy(matrix.tocsr() @ x.numpy())  # scipy sums the repeats
    torch.testing.assert_close(glt.spmm(g, x), expected)
    assert CSRGraph.from_scipy(matrix, weighted=False).edge_weight is None


@pytest.mark.parametrize("fmt", ["csr", "csc", "lil", "dok", "bsr"])
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_from_scipy_any_format_is_the_matrix(fmt, kind):
    import scipy.sparse as sp
    matrix = _scipy_oracle().tocsr().asformat(fmt)
    if kind == "array":
        matrix = sp.csr_array(matrix).asformat(fmt)
    g = CSRGraph.from_scipy(matrix)
    torch.testing.assert_close(dense(g), torch.from_numpy(_scipy_oracle().toarray()))


def test_from_scipy_weights_and_refusals():
    import numpy as np
    import scipy.sparse as sp
    pattern = sp.csr_matrix(np.array([[0, 1], [1, 1]], dtype=bool))
    assert CSRGraph.from_scipy(pattern).edge_weight.tolist() == [1.0, 1.0, 1.0]
    assert CSRGraph.from_scipy(pattern.astype(np.int64)).edge_weight.dtype == torch.float32
    assert CSRGraph.from_scipy(pattern.astype(np.float64)).edge_weight.dtype == torch.float64
    with pytest.raises(TypeError, match="expected a SciPy sparse matrix or array, got ndarray"):
        CSRGraph.from_scipy(pattern.toarray())
    with pytest.raises(ValueError, match="expected real or boolean values to read as edge "
                       "weights, got complex128; pass weighted=False"):
        CSRGraph.from_scipy(pattern.astype(np.complex128))
    assert CSRGraph.from_scipy(pattern.astype(np.complex128), weighted=False).num_edges == 3


def test_to_scipy_matches_pyg():
    from torch_geometric.utils import to_scipy_sparse_matrix
    weight = torch.rand(EDGES.size(1), dtype=torch.float64)
    g = CSRGraph.from_edge_index(EDGES, 5, weight)
    ours = g.to_scipy()
    assert ours.shape == (5, 5)
    theirs = to_scipy_sparse_matrix(EDGES, weight, num_nodes=5)
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())
    assert CSRGraph.from_edge_index(EDGES, 4, num_cols=5).to_scipy().sum() == EDGES.size(1)
    back = CSRGraph.from_scipy(ours)
    assert torch.equal(back.edge_index(), g.edge_index())
    assert torch.equal(back.edge_weight, g.edge_weight)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_edge_weights_are_refused(bad):
    """A NaN or infinite weight would turn every output it reaches into NaN (a
    weighted degree of inf normalises to 0 * inf); it is named where the graph
    is built, by every constructor."""
    import scipy.sparse as sp
    weight = torch.tensor([1.0, 2.0, bad, 0.5, bad, 1.0])
    message = "expected finite edge weights, got 2 NaN or infinite \\(the first at edge 2\\)"
    with pytest.raises(ValueError, match=message):
        CSRGraph.from_edge_index(EDGES, 5, weight)
    with pytest.raises(ValueError, match=message):
        CSRGraph.from_pyg(Data(edge_index=EDGES, num_nodes=5, edge_weight=weight))
    csr = CSRGraph.from_edge_index(EDGES, 5)
    with pytest.raises(ValueError, match="expected finite edge weights, got 2 NaN or infinite"):
        CSRGraph(csr.rowptr, csr.col, weight)
    with pytest.raises(ValueError, match="expected finite edge weights, got 2 NaN or infinite"):
        CSRGraph.from_sparse(torch.sparse_coo_tensor(EDGES, weight, (5, 5)).to_sparse_csr())
    with pytest.raises(ValueError, match="expected finite edge weights, got 2 NaN or infinite"):
        CSRGraph.from_scipy(sp.coo_matrix((weight.numpy(), EDGES.numpy()), shape=(5, 5)))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_from_scipy_is_scipys_matrix_for_any_entries(data):
    """Any entries (repeated, explicit zeros, empty rows, rectangular): glt's SpMM
    over the graph is SciPy's product, and to_scipy gives the entries back."""
    import scipy.sparse as sp
    n, m = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 7))
    nnz = data.draw(st.integers(0, 20))
    rows = data.draw(st.lists(st.integers(0, n - 1), min_size=nnz, max_size=nnz))
    cols = data.draw(st.lists(st.integers(0, m - 1), min_size=nnz, max_size=nnz))
    vals = data.draw(st.lists(st.sampled_from([0.0, 1.0, -2.5, 0.25]), min_size=nnz,
                              max_size=nnz))
    matrix = sp.coo_matrix((np.array(vals), (np.array(rows, dtype=np.int64),
                                            np.array(cols, dtype=np.int64))), shape=(n, m))
    fmt = data.draw(st.sampled_from(["coo", "csr", "csc"]))
    graph = CSRGraph.from_scipy(matrix.asformat(fmt))
    x = torch.randn(m, 3, dtype=torch.float64)
    torch.testing.assert_close(glt.spmm(graph, x), torch.from_numpy(matrix.tocsr() @ x.numpy()))
    np.testing.assert_array_equal(graph.to_scipy().toarray(), matrix.toarray())


def test_from_scipy_takes_a_csr_matrix_as_stored():
    """A CSR matrix's arrays are taken as they are (no sort): unsorted columns
    and a repeated entry in a row stay where SciPy stores them, as tocoo() reads."""
    import scipy.sparse as sp
    from torch_geometric.utils import from_scipy_sparse_matrix
    matrix = sp.csr_matrix((np.array([2.0, 1.0, 5.0, 3.0]), np.array([3, 0, 3, 1]),
                            np.array([0, 3, 3, 4])), shape=(3, 4))  # row 0: cols 3, 0, 3
    assert not matrix.has_sorted_indices
    graph = CSRGraph.from_scipy(matrix)
    edge_index, weight = from_scipy_sparse_matrix(matrix)
    assert torch.equal(graph.edge_index(), edge_index)
    assert torch.equal(graph.edge_weight, weight) and graph.edge_id.tolist() == [0, 1, 2, 3]
    x = torch.randn(4, 2, dtype=torch.float64)
    torch.testing.assert_close(glt.spmm(graph, x), torch.from_numpy(matrix @ x.numpy()))
