"""Checks shared by the dataset classes."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from glt.graph import CSRGraph


def check_graph_and_features(name: str, graph: CSRGraph, x: Optional[Tensor]) -> int:
    """Check ``graph`` is a square ``CSRGraph [N, N]`` and ``x`` (when given) is
    ``[N, F]``; return ``N``."""
    if not isinstance(graph, CSRGraph) or not graph.is_square:
        shape = graph.shape if isinstance(graph, CSRGraph) else type(graph).__name__
        raise ValueError(f"{name}: expected graph to be a square CSRGraph, got {shape}")
    n = graph.num_nodes
    if x is not None and (x.dim() != 2 or x.size(0) != n):
        raise ValueError(f"{name}: expected x of shape [{n}, F], got {tuple(x.shape)}")
    return n
