"""Uniform k-hop neighbourhood sampling over a CSR graph."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from glt._checks import as_index, as_int
from glt._threads import run_kernel
from glt.graph import CSRGraph
from glt.ops._csr import row_entries
from glt.samplers import _kernels
from glt.samplers._seed import draw_base

ENGINES = ("auto", "numba", "torch")


@dataclass
class SampledSubgraph:
    """The k-hop sample of a batch of seed nodes.

    Local ids index ``node``; seeds are the first ``batch_size`` of them, then
    the nodes each hop added, in order. Edges point from a sampled neighbour
    to the node it was sampled for (``edge_index[0]`` sends to
    ``edge_index[1]``), hop after hop.
    """

    node: Tensor                    #: ``[n]`` global id of each local node
    edge_index: Tensor              #: ``[2, e]`` local (source, target)
    edge_id: Tensor                 #: ``[e]`` id of each edge in the input ``edge_index``
    num_sampled_nodes: list[int]    #: ``[hops + 1]`` nodes added: seeds, then per hop
    num_sampled_edges: list[int]    #: ``[hops]`` edges sampled per hop
    _graph: Optional[CSRGraph] = field(default=None, repr=False)

    @property
    def batch_size(self) -> int:
        return self.num_sampled_nodes[0]

    @property
    def num_nodes(self) -> int:
        return self.node.numel()

    def hop_edge_index(self, hop: int) -> Tensor:
        """``[2, e_hop]`` local edges sampled at ``hop`` (0-based)."""
        start = sum(self.num_sampled_edges[:hop])
        return self.edge_index[:, start:start + self.num_sampled_edges[hop]]

    @property
    def graph(self) -> CSRGraph:
        """All sampled edges as a ``CSRGraph`` over the ``num_nodes`` local nodes."""
        if self._graph is None:
            self._graph = CSRGraph.from_edge_index(self.edge_index, self.num_nodes)
        return self._graph


def _check_fanouts(fanouts: Sequence[int]) -> list[int]:
    fanouts = [as_int(f, "fanouts") for f in fanouts]
    if not fanouts:
        raise ValueError("expected at least one fanout (one per hop), got []")
    bad = [f for f in fanouts if f < -1 or f == 0]
    if bad:
        raise ValueError(f"expected fanouts to be positive or -1 (all neighbours), got {fanouts}")
    return fanouts


class NeighborSampler:
    """Uniform sampling of in-neighbours, hop by hop (GraphSAGE; PyG's ``NeighborLoader``).

    For every seed, up to ``fanouts[0]`` of its in-neighbours (sources of edges
    into it) are drawn, then up to ``fanouts[1]`` of each newly reached node's,
    and so on. ``-1`` takes all neighbours.

    Args:
        graph: a ``CSRGraph`` (rows are edge sources).
        fanouts: neighbours per node at each hop, e.g. ``[15, 10, 5]``.
        replace: draw with replacement (every node with a neighbour gets exactly
            ``fanout`` draws) instead of distinct neighbours.
        engine: ``"numba"`` (CPU, parallel over nodes), ``"torch"`` (vectorised,
            runs where the graph lives, CUDA included) or ``"auto"``.

    The same ``seed`` gives the same sample whatever the number of threads.
    """

    def __init__(self, graph: CSRGraph, fanouts: Sequence[int], replace: bool = False,
                 engine: str = "auto") -> None:
        if not isinstance(graph, CSRGraph):
            raise TypeError(f"expected graph to be a glt.CSRGraph, got {type(graph).__name__} "
                            "(build one with CSRGraph.from_edge_index)")
        if not graph.is_square:
            raise ValueError(f"expected a square graph (nodes x nodes), got shape {graph.shape}")
        if engine not in ENGINES:
            raise ValueError(f"expected engine to be one of {ENGINES}, got {engine!r}")
        if engine == "auto":
            engine = "numba" if graph.device.type == "cpu" else "torch"
        if engine == "numba" and graph.device.type != "cpu":
            raise ValueError(f"the numba engine runs on CPU graphs, got one on {graph.device}")
        self.fanouts = _check_fanouts(fanouts)
        self.replace = bool(replace)
        self.engine = engine
        self.num_nodes = graph.num_nodes
        t = graph.transpose()  # rows = targets: a row lists a node's in-neighbours
        self.rowptr, self.col, self.edge_id = t.rowptr, t.col, t.edge_id  # ids into edge_index
        self._nbr_eid_cache: Optional[Tensor] = None
        self._local = threading.local()  # one node map per thread (loaders sample in threads)

    def _node_map(self) -> Tensor:
        node_map = getattr(self._local, "node_map", None)
        if node_map is None:  # int32 on CPU: half the memory the relabelling touches
            dtype = torch.int32 if self.engine == "numba" else torch.long
            node_map = torch.full((self.num_nodes,), -1, dtype=dtype, device=self.rowptr.device)
            self._local.node_map = node_map
        return node_map

    def _work(self, num_seeds: int) -> int:
        """Nodes a call on ``num_seeds`` seeds can reach at most (for :func:`run_kernel`;
        ``-1`` fanouts counted as the mean degree)."""
        mean_degree = self.col.numel() / max(self.num_nodes, 1)
        work, frontier = num_seeds, float(num_seeds)
        for fanout in self.fanouts:
            frontier *= mean_degree if fanout < 0 else fanout
            work += int(frontier)
        return work

    def _nbr_eid(self) -> Tensor:
        """``[E, 2]`` (neighbour, edge id) pairs: one cache line per drawn entry."""
        if self._nbr_eid_cache is None:
            self._nbr_eid_cache = torch.stack([self.col, self.edge_id], dim=1)
        return self._nbr_eid_cache

    def sample(self, seeds: Tensor, seed: Optional[int] = None) -> SampledSubgraph:
        """Sample the k-hop neighbourhood of ``seeds [B]`` (distinct global ids).

        ``seed`` fixes the draw; without it one is taken from torch's global
        generator (so ``torch.manual_seed`` makes runs repeatable).
        """
        seeds = as_index(seeds, "seeds", bound=self.num_nodes)
        if seeds.numel() == 0:
            raise ValueError("expected at least one seed node, got an empty tensor")
        seeds = seeds.to(self.rowptr.device)
        base = draw_base(seed)
        if self.engine == "numba":
            return self._sample_numba(seeds, base)
        return self._sample_torch(seeds, base)

    def _sample_numba(self, seeds: Tensor, base: int) -> SampledSubgraph:
        node, edge_index, eid, nodes_per_hop, edges_per_hop = run_kernel(
            _kernels.sample_khop, self._work(seeds.numel()),
            self.rowptr.numpy(), self._nbr_eid().numpy(), seeds.numpy(),
            np.asarray(self.fanouts, dtype=np.int64), self.replace, np.uint64(base),
            self._node_map().numpy())
        if nodes_per_hop[0] < 0:
            raise ValueError("expected distinct seed nodes, got repeated ids")
        return SampledSubgraph(torch.from_numpy(node), torch.from_numpy(edge_index),
                               torch.from_numpy(eid),
                               nodes_per_hop.tolist(), edges_per_hop.tolist())

    def _sample_torch(self, seeds: Tensor, base: int) -> SampledSubgraph:
        device = seeds.device
        gen = torch.Generator(device=device).manual_seed(base)
        if torch.unique(seeds).numel() != seeds.numel():
            raise ValueError("expected distinct seed nodes, got repeated ids")
        node_map = self._node_map()
        node_map[seeds] = torch.arange(seeds.numel(), device=device)
        nodes = [seeds]
        try:
            rows, cols, ids = [], [], []
            num_nodes, frontier_start = seeds.numel(), 0
            for fanout in self.fanouts:
                frontier = nodes[-1]
                owner, pos = self._draw(frontier, fanout, gen)
                nbr, eids = self.col[pos], self.edge_id[pos]
                fresh = torch.unique(nbr[node_map[nbr] < 0])
                node_map[fresh] = torch.arange(num_nodes, num_nodes + fresh.numel(),
                                               device=device)
                rows.append(node_map[nbr])
                cols.append(owner + frontier_start)
                ids.append(eids)
                nodes.append(fresh)
                frontier_start, num_nodes = num_nodes, num_nodes + fresh.numel()
        finally:
            node_map[torch.cat(nodes)] = -1
        return SampledSubgraph(torch.cat(nodes), torch.stack([torch.cat(rows), torch.cat(cols)]),
                               torch.cat(ids), [n.numel() for n in nodes],
                               [r.numel() for r in rows])

    def _draw(self, frontier: Tensor, fanout: int, gen: torch.Generator
              ) -> tuple[Tensor, Tensor]:
        """Entries drawn for each frontier node: ``(frontier position [S], CSR position [S])``."""
        device = frontier.device
        start = self.rowptr[frontier]
        deg = self.rowptr[frontier + 1] - start
        positions = torch.arange(frontier.numel(), device=device)
        if fanout < 0:
            return row_entries(positions, start, deg)
        if self.replace:
            owner = torch.repeat_interleave(positions, torch.where(deg > 0, fanout, 0))
            return owner, start[owner] + _uniform_below(deg[owner], gen)
        # distinct draws: all entries of nodes within the fanout; a random-key
        # ranking of every entry for nodes up to 4x over it; else rejection
        small, mid = deg <= fanout, (deg > fanout) & (deg <= 4 * fanout)
        big = ~(small | mid)
        owner_s, pos_s = row_entries(positions[small], start[small], deg[small])
        owner_m, pos_m = row_entries(positions[mid], start[mid], deg[mid])
        key = torch.rand(owner_m.numel(), generator=gen, device=device)
        order = torch.argsort(key)
        order = order[torch.argsort(owner_m[order], stable=True)]  # by owner, then key
        rank = torch.arange(owner_m.numel(), device=device)
        first = torch.searchsorted(owner_m, owner_m)  # index of each owner's first entry
        keep = order[(rank - first) < fanout]
        owner_b = torch.repeat_interleave(positions[big], fanout)
        offset_b = _distinct_below(owner_b, deg[owner_b], gen)
        owner = torch.cat([owner_s, owner_m[keep], owner_b])
        pos = torch.cat([pos_s, pos_m[keep], start[owner_b] + offset_b])
        order = torch.argsort(owner, stable=True)
        return owner[order], pos[order]

    def __repr__(self) -> str:
        return (f"NeighborSampler(fanouts={self.fanouts}, replace={self.replace}, "
                f"engine={self.engine!r}, num_nodes={self.num_nodes})")


def _uniform_below(n: Tensor, gen: torch.Generator) -> Tensor:
    """One uniform draw in ``[0, n)`` per entry of ``n``."""
    r = torch.rand(n.numel(), generator=gen, device=n.device, dtype=torch.float64)
    return torch.minimum((r * n).long(), n - 1)


def _distinct_below(owner: Tensor, n: Tensor, gen: torch.Generator) -> Tensor:
    """Uniform draws in ``[0, n)``, distinct among entries of the same ``owner``
    (grouped), by redrawing repeats; meant for ``n`` well above the group size."""
    draw = _uniform_below(n, gen)
    if draw.numel() == 0:
        return draw
    scale = int(n.max())
    while True:
        key = owner * scale + draw
        sorted_key, order = torch.sort(key)
        repeat = torch.zeros_like(owner, dtype=torch.bool)
        repeat[order[1:]] = sorted_key[1:] == sorted_key[:-1]
        if not bool(repeat.any()):
            return draw
        draw[repeat] = _uniform_below(n[repeat], gen)
