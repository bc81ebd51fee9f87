"""Checks shared by the dataset classes."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Optional

from torch import Tensor

from glt._checks import count_nonfinite
from glt.graph import CSRGraph

# ids of the tensors that check_finite passes unread (see vouched_finite)
_VOUCHED: ContextVar[frozenset[int]] = ContextVar("glt_vouched_finite", default=frozenset())


def check_graph_and_features(name: str, graph: CSRGraph, x: Optional[Tensor],
                             edge_attr: Optional[Tensor] = None) -> int:
    """Check ``graph`` is a square ``CSRGraph [N, N]``, ``x`` (when given) is
    ``[N, F]``, ``edge_attr`` (when given) is ``[E, ...]``, and that features and
    edge weights are finite; return ``N``."""
    if not isinstance(graph, CSRGraph) or not graph.is_square:
        shape = graph.shape if isinstance(graph, CSRGraph) else type(graph).__name__
        raise ValueError(f"{name}: expected graph to be a square CSRGraph, got {shape}")
    n = graph.num_nodes
    if x is not None and (x.dim() != 2 or x.size(0) != n):
        raise ValueError(f"{name}: expected x of shape [{n}, F], got {tuple(x.shape)}")
    if edge_attr is not None and (edge_attr.dim() < 1 or edge_attr.size(0) != graph.num_edges):
        raise ValueError(f"{name}: expected edge_attr with one row per edge "
                         f"([{graph.num_edges}, D]), got {tuple(edge_attr.shape)}")
    for what, values in (("x", x), ("edge_attr", edge_attr), ("edge weights", graph.edge_weight)):
        check_finite(name, what, values)
    return n


@contextmanager
def vouched_finite(*tensors: Tensor) -> Iterator[None]:
    """Within the block, :func:`check_finite` passes ``tensors`` (these objects,
    not their copies or views) without reading them: a cache loader vouches for
    arrays found finite when the cache was built, as it vouches for their
    checksums, so a load does not read every feature again."""
    token = _VOUCHED.set(_VOUCHED.get() | {id(t) for t in tensors})
    try:
        yield
    finally:
        _VOUCHED.reset(token)


def check_file_finite(values: Tensor, said: str) -> None:
    """Refuse NaN or infinite entries of ``values [N, ...]`` read from a released
    file (a damaged copy): ``said`` opens the message (the file, and what it holds)."""
    count, row = count_nonfinite(values)
    if count:
        raise ValueError(f"{said} {count} NaN or infinite values (the first in row {row}); "
                         "the file looks corrupt: delete it to re-download it")


def check_finite(name: str, what: str, values: Optional[Tensor]) -> None:
    """Refuse NaN or infinite entries of ``values [N, ...]`` (dense or sparse),
    naming how many there are and the first row holding one: a model fed them
    trains on NaN and scores as if it were a prediction."""
    if values is None or id(values) in _VOUCHED.get():
        return
    count, row = count_nonfinite(values)
    if count:
        raise ValueError(f"{name}: {count} NaN or infinite values in {what} (the first in "
                         f"row {row}); replace them (e.g. torch.nan_to_num) or drop those "
                         "rows before training")
