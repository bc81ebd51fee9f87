"""Graph normalisations shared by layers and models."""
from __future__ import annotations

import torch

from glt.graph import CSRGraph


def gcn_norm(graph: CSRGraph, add_self_loops: bool = True, improved: bool = False) -> CSRGraph:
    r"""Symmetric GCN normalisation (Kipf & Welling, https://arxiv.org/abs/1609.02907).

    .. math::
        \hat{A} = \hat{D}^{-1/2} (A + \lambda I) \hat{D}^{-1/2}

    on the aggregation layout (rows = targets, i.e. ``graph.transpose()``), with
    :math:`\hat{D}` the weighted in-degree and :math:`\lambda` = 1 (2 if
    ``improved``) added only where a node has no self-loop, as PyG's ``gcn_norm``.
    Zero-degree nodes get weight 0. The result is cached on ``graph``.

    Returns:
        ``CSRGraph`` of ``\hat{A}`` whose row ``i`` holds node ``i``'s incoming edges.
    """
    def compute() -> CSRGraph:
        adj = graph.transpose()
        if add_self_loops:
            adj = adj.add_remaining_self_loops(2.0 if improved else 1.0)
        weight = adj.weights()
        deg = adj.with_edge_weight(weight).out_degree(weighted=True)
        inv_sqrt = deg.pow(-0.5)
        inv_sqrt.masked_fill_(torch.isinf(inv_sqrt), 0.0)
        norm = inv_sqrt[adj.row()] * weight * inv_sqrt[adj.col]
        return adj.with_edge_weight(norm)
    return graph.cached(("gcn_norm", add_self_loops, improved), compute)
