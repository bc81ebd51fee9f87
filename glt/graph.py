"""``CSRGraph``: glt's graph storage in compressed sparse row form."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

import numpy as np
import torch
from torch import Tensor

from glt._checks import (as_index, as_int, check_edge_weight, check_finite_weight,
                         size_from_index)
from glt._unpickle import ARCHIVE_ERRORS
from glt.ops._csr import row_entries
from glt.ops.scatter import csr_transpose, sort_index
from glt.ops.segment import check_ptr

if TYPE_CHECKING:
    import networkx
    import scipy.sparse
    from torch_geometric.data import Data
    from torch_sparse import SparseTensor

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]


class CSRGraph:
    r"""A (possibly rectangular) sparse adjacency ``A`` in CSR form.

    Row ``i`` lists the edges leaving node ``i``: the edge ``(rowptr-row i, col[k])``
    comes from ``edge_index[:, e]`` with ``row = source``, so messages flow from
    the row node to the column node. Layers aggregate over :meth:`transpose`
    (rows = targets), which is computed once and cached.

    Args:
        rowptr: ``[N + 1]`` int64 offsets of each row's entries.
        col: ``[E]`` int64 column (target) of each entry.
        edge_weight: optional ``[E]`` floating weight of each entry.
        num_cols: number of columns (default ``N``, a square graph).
        edge_id: optional ``[E]`` id of each entry in the user's original edge
            order (``-1`` for entries glt added, such as self-loops).
        validate: check shapes, dtypes, offsets and the column range.
    """

    def __init__(self, rowptr: Tensor, col: Tensor, edge_weight: Optional[Tensor] = None,
                 num_cols: Optional[int] = None, edge_id: Optional[Tensor] = None,
                 validate: bool = True, _structure: Optional[dict[str, Any]] = None) -> None:
        num_rows = int(rowptr.numel()) - 1
        num_cols = num_rows if num_cols is None else as_int(num_cols, "num_cols")
        if validate:
            col = as_index(col, "col", bound=num_cols)
            rowptr = check_ptr(rowptr, col.numel(), "rowptr")
            if num_cols < 0:
                raise ValueError(f"expected num_cols to be non-negative, got {num_cols}")
            if edge_weight is not None:
                check_edge_weight(edge_weight, col.numel())
                check_finite_weight(edge_weight)
            if edge_id is not None:
                edge_id = as_index(edge_id, "edge_id", length=col.numel())
            for name, t in (("col", col), ("edge_weight", edge_weight), ("edge_id", edge_id)):
                if t is not None and t.device != rowptr.device:
                    raise ValueError(f"expected {name} on {rowptr.device} like rowptr, "
                                     f"got {t.device}")
        self.rowptr = rowptr
        self.col = col
        self.edge_weight = edge_weight
        self.edge_id = edge_id
        self.num_cols = num_cols
        self._cache: dict[Any, Any] = {}
        # Caches that depend on the sparsity pattern alone, shared by graphs
        # that differ only in their weights (see ``with_edge_weight``).
        self._structure: dict[str, Any] = {} if _structure is None else _structure

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: Optional[int] = None,
                        edge_weight: Optional[Tensor] = None,
                        num_cols: Optional[int] = None) -> "CSRGraph":
        """Build from ``edge_index [2, E]`` (row = source), sorting edges by row.

        Edges keep their input order within a row and ``edge_id`` records it.
        ``num_nodes`` defaults to ``edge_index.max() + 1``; ``num_cols`` (for a
        bipartite graph) to ``num_nodes``. Duplicates and self-loops are kept.
        """
        if is_sparse_adjacency(edge_index):
            what, shape = (("torch_sparse SparseTensor", edge_index.sparse_sizes())
                           if is_sparse_tensor(edge_index)
                           else (f"sparse {edge_index.layout}", edge_index.shape))
            raise ValueError(f"expected edge_index [2, E], got a {what} adjacency of shape "
                             f"{tuple(shape)}: build its graph with CSRGraph.from_sparse")
        if not isinstance(edge_index, Tensor):
            raise TypeError(f"expected edge_index to be a torch.Tensor, got "
                            f"{type(edge_index).__name__}")
        if type(edge_index) is not Tensor:  # a subclass (PyG's EdgeIndex): stored plain
            edge_index = edge_index.data.as_subclass(Tensor)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            hint = (" (one pair per row: pass edge_index.t())" if edge_index.dim() == 2
                    and edge_index.size(1) == 2 else "")
            raise ValueError(f"expected edge_index to have shape [2, E], got "
                             f"{tuple(edge_index.shape)}{hint}")
        if num_nodes is None:
            num_nodes = size_from_index(edge_index.reshape(-1))
        num_nodes = as_int(num_nodes, "num_nodes", minimum=0)
        num_cols = num_nodes if num_cols is None else as_int(num_cols, "num_cols", minimum=0)
        row = as_index(edge_index[0], "edge_index[0] (source ids)", bound=num_nodes)
        col = as_index(edge_index[1], "edge_index[1] (target ids)", bound=num_cols)
        if edge_weight is not None:
            check_edge_weight(edge_weight, row.numel())
            check_finite_weight(edge_weight)
        edge_id = torch.arange(row.numel(), device=row.device)
        return cls._from_coo(row, col, edge_weight, edge_id, num_nodes, num_cols)

    @classmethod
    def from_sparse(cls, adj: "SparseAdjacency") -> "CSRGraph":
        """From a sparse adjacency ``A [N, M]`` whose entry ``(i, j)`` is an edge from
        ``i`` to ``j``: a torch sparse tensor (COO, CSR or CSC layout; its values
        become ``edge_weight``; COO is coalesced first, repeated entries summed, as
        torch reads it) or torch_sparse's ``SparseTensor`` (its values, if any, become
        ``edge_weight``). The arrays are checked as :class:`CSRGraph` checks its own."""
        if is_sparse_tensor(adj):
            rowptr, col, value = adj.csr()
            num_rows, num_cols = (int(size) for size in adj.sparse_sizes())
            if rowptr.numel() != num_rows + 1:
                raise ValueError(f"expected a SparseTensor's rowptr to have {num_rows + 1} "
                                 f"entries for its {num_rows} rows, got {rowptr.numel()}")
            return cls(rowptr, col, value, num_cols)
        if not isinstance(adj, Tensor) or adj.layout not in _SPARSE_LAYOUTS:
            what = adj.layout if isinstance(adj, Tensor) else type(adj).__name__
            raise TypeError("expected a torch sparse tensor (COO, CSR or CSC) or a "
                            f"torch_sparse SparseTensor, got {what}")
        if adj.dim() != 2:
            raise ValueError(f"expected a 2-D sparse adjacency, got shape {tuple(adj.shape)}")
        if adj.layout != torch.sparse_csr:
            adj = (adj.coalesce() if adj.layout == torch.sparse_coo else adj).to_sparse_csr()
        return cls(adj.crow_indices().long(), adj.col_indices(), adj.values(), adj.size(1))

    @classmethod
    def _from_coo(cls, row: Tensor, col: Tensor, edge_weight: Optional[Tensor],
                  edge_id: Optional[Tensor], num_rows: int, num_cols: int) -> "CSRGraph":
        rowptr, perm = sort_index(row, num_rows)
        return cls(rowptr, col[perm], None if edge_weight is None else edge_weight[perm],
                   num_cols, None if edge_id is None else edge_id[perm], validate=False)

    # ------------------------------------------------------------------ basic facts
    @property
    def num_nodes(self) -> int:
        """Number of rows ``N`` (the number of nodes of a square graph)."""
        return self.rowptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.col.numel()

    @property
    def shape(self) -> tuple[int, int]:
        return self.num_nodes, self.num_cols

    @property
    def device(self) -> torch.device:
        return self.rowptr.device

    @property
    def is_square(self) -> bool:
        return self.num_nodes == self.num_cols

    def __repr__(self) -> str:
        weighted = ", weighted" if self.edge_weight is not None else ""
        return (f"CSRGraph(shape={self.shape}, num_edges={self.num_edges}{weighted}, "
                f"device={self.device})")

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per ``key`` and kept on the graph."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _structural(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._structure:
            self._structure[key] = compute()
        return self._structure[key]

    def row(self) -> Tensor:
        """``[E]`` source (row) of every entry, in CSR order."""
        return self._structural("row", lambda: torch.repeat_interleave(
            torch.arange(self.num_nodes, device=self.device), self.rowptr.diff(),
            output_size=self.num_edges))

    def edge_index(self) -> Tensor:
        """``[2, E]`` COO edges in CSR order."""
        return torch.stack([self.row(), self.col])

    def weights(self) -> Tensor:
        """``[E]`` edge weights (ones for an unweighted graph)."""
        if self.edge_weight is not None:
            return self.edge_weight
        return torch.ones(self.num_edges, device=self.device)

    def out_degree(self, weighted: bool = False) -> Tensor:
        """``[N]`` number (or weight sum) of entries per row."""
        if not weighted:
            return self.rowptr.diff()
        from glt.ops.segment import segment
        return segment(self.weights().unsqueeze(-1), self.rowptr).squeeze(-1)

    def in_degree(self, weighted: bool = False) -> Tensor:
        """``[num_cols]`` number (or weight sum) of entries per column."""
        return self.transpose().out_degree(weighted)

    # ------------------------------------------------------------------ transpose
    def csc(self) -> tuple[Tensor, Tensor, Tensor]:
        """CSC arrays ``(colptr [num_cols + 1], row [E], perm [E])``.

        ``perm[k]`` is the CSR position of the ``k``-th CSC entry. Cached.
        """
        return self._structural("csc", lambda: csr_transpose(self.rowptr, self.col,
                                                             self.num_cols, self.row()))

    def transpose(self) -> "CSRGraph":
        """The graph of ``A^T`` (rows = targets), with weights and edge ids carried. Cached."""
        def compute() -> CSRGraph:
            colptr, row, perm = self.csc()
            weight = None if self.edge_weight is None else self.edge_weight[perm]
            edge_id = perm if self.edge_id is None else self.edge_id[perm]
            t = CSRGraph(colptr, row, weight, self.num_nodes, edge_id, validate=False)
            t._cache["transpose"] = self
            t._cache["csr_perm_of_transpose"] = perm
            return t
        return self.cached("transpose", compute)

    def t(self) -> "CSRGraph":
        """Alias of :meth:`transpose`."""
        return self.transpose()

    def submatrix(self, rows: Tensor, cols: Tensor) -> "CSRGraph":
        """``A[rows][:, cols]``: the entries of rows ``rows [R]`` whose column is in
        ``cols [C]`` (distinct ids), relabelled to ``[R, C]``; weights and edge ids
        are carried, entries keep their order within a row."""
        rows = as_index(rows, "rows", bound=self.num_nodes)
        cols = as_index(cols, "cols", bound=self.num_cols)
        position = torch.full((self.num_cols,), -1, dtype=torch.long, device=self.device)
        position[cols] = torch.arange(cols.numel(), device=self.device)
        if int((position >= 0).sum()) != cols.numel():
            raise ValueError("expected distinct column ids in cols")
        start = self.rowptr[rows]
        owner, pos = row_entries(torch.arange(rows.numel(), device=self.device), start,
                                 self.rowptr[rows + 1] - start)
        col = position[self.col[pos]]
        keep = col >= 0
        owner, pos = owner[keep], pos[keep]
        rowptr = torch.zeros(rows.numel() + 1, dtype=torch.long, device=self.device)
        rowptr[1:] = torch.bincount(owner, minlength=rows.numel()).cumsum(0)
        return CSRGraph(rowptr, col[keep],
                        None if self.edge_weight is None else self.edge_weight[pos],
                        cols.numel(), self._edge_ids()[pos], validate=False)

    # ------------------------------------------------------------------ self-loops
    def _require_square(self, what: str) -> None:
        if not self.is_square:
            raise ValueError(f"expected a square graph for {what}, got shape {self.shape}")

    def _edge_ids(self) -> Tensor:
        if self.edge_id is not None:
            return self.edge_id
        return torch.arange(self.num_edges, device=self.device)

    def remove_self_loops(self) -> "CSRGraph":
        """A copy without ``i -> i`` entries."""
        keep = self.row() != self.col
        return CSRGraph._from_coo(
            self.row()[keep], self.col[keep],
            None if self.edge_weight is None else self.edge_weight[keep],
            self._edge_ids()[keep], self.num_nodes, self.num_cols)

    def to_undirected(self) -> "CSRGraph":
        """``A + A^T`` without weights, each ``(i, j)`` kept once (PyG's
        ``to_undirected``); ``edge_id`` is not carried."""
        self._require_square("to_undirected")
        n = self.num_nodes
        keys = torch.cat([self.row() * n + self.col, self.col * n + self.row()]).unique()
        return CSRGraph._from_coo(keys // n, keys % n, None, None, n, n)

    def add_self_loops(self, fill_value: float = 1.0) -> "CSRGraph":
        """A copy with one extra ``i -> i`` entry of weight ``fill_value`` per node
        (existing self-loops stay). Added entries get ``edge_id = -1``."""
        self._require_square("add_self_loops")
        return self._with_loops(self.row(), self.col, self.edge_weight, self._edge_ids(),
                                torch.full((self.num_nodes,), float(fill_value),
                                           device=self.device))

    def add_remaining_self_loops(self, fill_value: float = 1.0) -> "CSRGraph":
        """A copy with exactly one ``i -> i`` entry per node: an existing
        self-loop keeps its weight (1 when unweighted; the last one if repeated), other nodes get
        ``fill_value`` and ``edge_id = -1`` (PyG's ``add_remaining_self_loops``)."""
        self._require_square("add_remaining_self_loops")
        row, col = self.row(), self.col
        is_loop = row == col
        loop_w = torch.full((self.num_nodes,), float(fill_value), device=self.device,
                            dtype=self.edge_weight.dtype if self.edge_weight is not None
                            else torch.float32)
        loop_w[row[is_loop]] = self.weights()[is_loop].to(loop_w.dtype)
        loop_id = torch.full((self.num_nodes,), -1, dtype=torch.long, device=self.device)
        loop_id[row[is_loop]] = self._edge_ids()[is_loop]
        keep = ~is_loop
        return self._with_loops(row[keep], col[keep],
                                None if self.edge_weight is None else self.edge_weight[keep],
                                self._edge_ids()[keep], loop_w, loop_id)

    def _with_loops(self, row: Tensor, col: Tensor, weight: Optional[Tensor], edge_id: Tensor,
                    loop_weight: Tensor, loop_id: Optional[Tensor] = None) -> "CSRGraph":
        nodes = torch.arange(self.num_nodes, device=self.device)
        loop_id = torch.full_like(nodes, -1) if loop_id is None else loop_id
        if weight is None:
            weight = torch.ones(row.numel(), device=self.device, dtype=loop_weight.dtype)
        return CSRGraph._from_coo(
            torch.cat([row, nodes]), torch.cat([col, nodes]),
            torch.cat([weight, loop_weight.to(weight.dtype)]),
            torch.cat([edge_id, loop_id]), self.num_nodes, self.num_cols)

    def with_edge_weight(self, edge_weight: Optional[Tensor]) -> "CSRGraph":
        """The same structure with other ``[E]`` weights (CSR order); structural
        caches (row index, CSC arrays) are shared with this graph."""
        if edge_weight is not None:
            check_edge_weight(edge_weight, self.num_edges)
        return CSRGraph(self.rowptr, self.col, edge_weight, self.num_cols, self.edge_id,
                        validate=False, _structure=self._structure)

    # ------------------------------------------------------------------ memory
    def _apply(self, fn: Callable[[Tensor], Tensor]) -> "CSRGraph":
        return CSRGraph(fn(self.rowptr), fn(self.col),
                        None if self.edge_weight is None else fn(self.edge_weight),
                        self.num_cols, None if self.edge_id is None else fn(self.edge_id),
                        validate=False)

    def to(self, device: Union[str, torch.device], non_blocking: bool = False) -> "CSRGraph":
        """A copy on ``device`` (``self`` when already there); caches are not carried."""
        device = torch.device(device)
        if device == self.device:
            return self
        return self._apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "CSRGraph":
        """A copy in page-locked memory for fast host-to-GPU copies."""
        return self._apply(lambda t: t.pin_memory())

    def share_memory_(self) -> "CSRGraph":
        """Move the arrays to shared memory (for worker processes), in place."""
        for t in (self.rowptr, self.col, self.edge_weight, self.edge_id):
            if t is not None:
                t.share_memory_()
        return self

    # ------------------------------------------------------------------ I/O
    def save(self, path: PathLike) -> None:
        """Write the arrays to an ``.npz`` file (atomically: a temporary file is renamed)."""
        arrays = {"rowptr": self.rowptr.cpu().numpy(), "col": self.col.cpu().numpy(),
                  "num_cols": np.array(self.num_cols)}
        if self.edge_weight is not None:
            arrays["edge_weight"] = self.edge_weight.detach().cpu().numpy()
        if self.edge_id is not None:
            arrays["edge_id"] = self.edge_id.cpu().numpy()
        path = os.fspath(path)
        tmp = path + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: PathLike) -> "CSRGraph":
        """Read a graph written by :meth:`save`, validating it."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no CSRGraph file at {path!r}")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except ARCHIVE_ERRORS as err:
            raise ValueError(f"could not read {path!r} as a CSRGraph .npz file: {err}") from err
        missing = {"rowptr", "col", "num_cols"} - arrays.keys()
        if missing:
            raise ValueError(f"expected {path!r} to hold the arrays rowptr, col, num_cols; "
                             f"missing {sorted(missing)}")
        if arrays["num_cols"].shape != () or arrays["num_cols"].dtype.kind not in "iu":
            raise ValueError(f"expected {path!r} to hold an integer num_cols, got "
                             f"{arrays['num_cols'].dtype} of shape {arrays['num_cols'].shape}")
        opt = {k: torch.from_numpy(arrays[k]) if k in arrays else None
               for k in ("edge_weight", "edge_id")}
        try:
            return cls(torch.from_numpy(arrays["rowptr"]), torch.from_numpy(arrays["col"]),
                       opt["edge_weight"], int(arrays["num_cols"]), opt["edge_id"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path!r} does not hold a valid CSRGraph: {err}") from err

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_pyg(cls, data: "Data") -> "CSRGraph":
        """From a ``torch_geometric.data.Data``: its ``edge_index`` (and
        ``edge_weight`` when present), or, where ``T.ToSparseTensor`` replaced them,
        its ``adj_t`` (entry ``(i, j)``: an edge from ``j`` to ``i``); ``num_nodes``."""
        edge_index, adj_t = getattr(data, "edge_index", None), getattr(data, "adj_t", None)
        if edge_index is None and adj_t is not None:
            adj_t = cls.from_sparse(adj_t)
            if adj_t.shape != (data.num_nodes, data.num_nodes):
                raise ValueError(f"expected the Data's adj_t to be [{data.num_nodes}, "
                                 f"{data.num_nodes}] (num_nodes), got {adj_t.shape}")
            return adj_t.transpose()
        weight = getattr(data, "edge_weight", None)
        return cls.from_edge_index(edge_index, data.num_nodes, weight)

    def to_pyg(self, **attrs: Any) -> "Data":
        """To a ``torch_geometric.data.Data`` with edges in CSR order and extra ``attrs``."""
        from torch_geometric.data import Data
        if not self.is_square:
            raise ValueError(f"expected a square graph for to_pyg, got shape {self.shape}")
        data = Data(edge_index=self.edge_index(), num_nodes=self.num_nodes, **attrs)
        if self.edge_weight is not None:
            data.edge_weight = self.edge_weight
        return data

    @classmethod
    def from_scipy(cls, matrix: "ScipySparse", weighted: bool = True) -> "CSRGraph":
        """From a SciPy sparse matrix or array ``A [N, M]`` in any format (``csr_matrix``,
        ``coo_array``, ...) whose entry ``(i, j)`` is an edge from ``i`` to ``j``. Each
        stored entry becomes an edge, explicit zeros and repeated entries too (as PyG's
        ``from_scipy_sparse_matrix`` and DGL's ``from_scipy`` read them), kept in the
        order of ``matrix.tocoo()`` within a row (``edge_id``; a CSR matrix's arrays
        are taken as they are, with no sort). The values become
        ``edge_weight`` (integer and boolean ones as float32, long doubles as float64)
        unless ``weighted=False``."""
        import scipy.sparse as sp
        if not sp.issparse(matrix):
            raise TypeError(f"expected a SciPy sparse matrix or array, got "
                            f"{type(matrix).__name__}")
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-D sparse adjacency, got shape {matrix.shape}")
        is_csr = matrix.format == "csr"
        stored = matrix if is_csr else matrix.tocoo()
        weight = None
        if weighted:
            if stored.data.dtype.kind not in "biuf":
                raise ValueError(f"expected real or boolean values to read as edge weights, "
                                 f"got {stored.data.dtype}; pass weighted=False to keep the "
                                 f"pattern alone")
            dtype = stored.data.dtype
            if dtype not in (np.float32, np.float64):  # float128 has no torch dtype
                dtype = np.float64 if dtype.kind == "f" else np.float32
            weight = torch.from_numpy(np.array(stored.data, dtype=dtype))
        num_rows, num_cols = matrix.shape
        if is_csr:  # its arrays as they are, no sort
            rowptr = torch.from_numpy(stored.indptr.astype(np.int64))
            col = torch.from_numpy(stored.indices.astype(np.int64))
            return cls(rowptr, col, weight, num_cols, torch.arange(col.numel()))
        edge_index = torch.from_numpy(np.stack([stored.row, stored.col]).astype(np.int64))
        return cls.from_edge_index(edge_index, num_rows, weight, num_cols=num_cols)

    def to_scipy(self) -> "scipy.sparse.csr_matrix":
        """To a ``scipy.sparse.csr_matrix [N, M]`` holding the same entries in the
        same order (repeated ones stay stored apart; SciPy sums them when it
        computes), ``edge_weight`` as values (float32 ones where there is none)."""
        import scipy.sparse as sp
        value = (torch.ones(self.num_edges) if self.edge_weight is None
                 else self.edge_weight.detach())
        return sp.csr_matrix((value.cpu().numpy(), self.col.cpu().numpy(),
                              self.rowptr.cpu().numpy()), shape=self.shape)

    @classmethod
    def from_networkx(cls, graph: "networkx.Graph", weight: Optional[str] = None) -> "CSRGraph":
        """From a networkx graph; nodes are numbered in ``graph.nodes`` order and
        an undirected edge becomes two directed entries. ``weight`` names an
        edge attribute to use as ``edge_weight``."""
        index = {node: i for i, node in enumerate(graph.nodes)}
        pairs, weights = [], []
        for u, v, attrs in graph.edges(data=True):
            both = [(u, v)] if graph.is_directed() or u == v else [(u, v), (v, u)]
            for a, b in both:
                pairs.append((index[a], index[b]))
                if weight is not None:
                    if weight not in attrs:
                        raise ValueError(f"expected every edge to carry the attribute "
                                         f"{weight!r}, edge ({u!r}, {v!r}) does not")
                    weights.append(float(attrs[weight]))
        edge_index = (torch.tensor(pairs, dtype=torch.long).t() if pairs
                      else torch.empty(2, 0, dtype=torch.long))
        edge_weight = torch.tensor(weights) if weight is not None else None
        return cls.from_edge_index(edge_index, len(index), edge_weight)

    def to_networkx(self, weight: str = "weight") -> "networkx.MultiDiGraph":
        """To a ``networkx.MultiDiGraph`` (duplicate edges stay distinct) on nodes
        ``0..N-1``; edge weights go to the attribute ``weight``."""
        import networkx as nx
        self._require_square("to_networkx")
        g = nx.MultiDiGraph()
        g.add_nodes_from(range(self.num_nodes))
        src, dst = self.row().tolist(), self.col.tolist()
        if self.edge_weight is None:
            g.add_edges_from(zip(src, dst))
        else:
            g.add_weighted_edges_from(zip(src, dst, self.edge_weight.tolist()), weight=weight)
        return g


SparseAdjacency = Union[Tensor, "SparseTensor"]
ScipySparse = Union["scipy.sparse.spmatrix", "scipy.sparse.sparray"]
GraphLike = Union[CSRGraph, SparseAdjacency]
_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)


def is_sparse_tensor(obj: Any) -> bool:
    """Whether ``obj`` is torch_sparse's ``SparseTensor`` (what PyG's
    ``T.ToSparseTensor`` makes where torch_sparse is installed), told by its class
    without importing torch_sparse."""
    kind = type(obj)
    return kind.__name__ == "SparseTensor" and kind.__module__.split(".")[0] == "torch_sparse"


def is_sparse_adjacency(obj: Any) -> bool:
    """Whether ``obj`` is a torch sparse tensor or torch_sparse's ``SparseTensor``."""
    return (isinstance(obj, Tensor) and obj.layout in _SPARSE_LAYOUTS) or is_sparse_tensor(obj)


def as_graph(graph: GraphLike, num_nodes: int, edge_weight: Optional[Tensor] = None) -> CSRGraph:
    """Accept a ``CSRGraph``, an ``edge_index [2, E]`` or, as PyG's layers read a
    sparse matrix, an ``adj_t [N, N]`` (entry ``(i, j)``: an edge from ``j`` to
    ``i``, its value the edge's weight; ``T.ToSparseTensor``'s output): a torch
    sparse tensor or torch_sparse's ``SparseTensor``. The last two are built here,
    so pass a ``CSRGraph`` to reuse its cached transpose and normalisation across
    calls."""
    if is_sparse_adjacency(graph):
        if edge_weight is not None:
            raise ValueError("expected edge_weight to be None with a sparse adjacency "
                             "(its values are the weights)")
        adj_t = CSRGraph.from_sparse(graph)
        if adj_t.shape != (num_nodes, num_nodes):
            raise ValueError(f"expected a sparse adj_t of shape ({num_nodes}, {num_nodes}) "
                             f"for the {num_nodes} rows of x, got {adj_t.shape}")
        return adj_t.transpose()
    if isinstance(graph, CSRGraph):
        if edge_weight is not None:
            raise ValueError("expected edge_weight to be None with a CSRGraph "
                             "(its weights live in graph.edge_weight)")
        if graph.num_cols != num_nodes:
            raise ValueError(f"expected a graph over the {num_nodes} rows of x, got shape "
                             f"{graph.shape}")
        return graph
    return CSRGraph.from_edge_index(graph, num_nodes, edge_weight)
