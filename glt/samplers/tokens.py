"""LargeGT's token sampler: K tokens per node from its 2-hop neighbourhood."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from glt._checks import as_index
from glt._threads import run_kernel, threads_for
from glt.graph import CSRGraph
from glt.samplers import _kernels
from glt.samplers._seed import draw_base


class TokenSampler:
    """Token sequences for LargeGT's local attention (Dwivedi et al., 2023).

    Row ``i`` of :meth:`sample` is node ``i`` followed by ``num_tokens - 1``
    nodes drawn from the union of its 1-hop and 2-hop in-neighbourhoods (the
    node itself left out): distinct when the union has enough nodes, every
    node of the union plus uniform repeats otherwise. Two hops of tokens under
    two attention layers give LargeGT its 4-hop receptive field. The union is
    enumerated node by node, in parallel, without forming ``A^2`` and with
    scratch memory per thread in proportion to ``max_candidates``, never to the
    graph (a batch of ogbn-papers100M's 111M nodes costs no more than one of
    Cora's). A node
    whose 2-hop walks outnumber ``max_candidates`` (next to a hub) takes the
    first distinct endpoints of random 1- or 2-step walks instead (up to 8
    walks per token), which favours nodes reachable by many paths.

    Args:
        graph: a square ``CSRGraph``.
        num_tokens: ``K``, tokens per node including the node itself.
        max_candidates: cap on the 2-hop walks enumerated per node.
    """

    def __init__(self, graph: CSRGraph, num_tokens: int, max_candidates: int = 10_000) -> None:
        if not isinstance(graph, CSRGraph):
            raise TypeError(f"expected graph to be a glt.CSRGraph, got {type(graph).__name__}")
        if not graph.is_square:
            raise ValueError(f"expected a square graph (nodes x nodes), got shape {graph.shape}")
        if num_tokens < 2:
            raise ValueError(f"expected num_tokens >= 2 (the node and a neighbour), "
                             f"got {num_tokens}")
        if max_candidates < num_tokens:
            raise ValueError(f"expected max_candidates >= num_tokens, got {max_candidates}")
        t = graph.transpose().to("cpu")
        self.rowptr, self.col = t.rowptr.numpy(), t.col.numpy()
        self.num_nodes = graph.num_nodes
        self.num_tokens = int(num_tokens)
        self.max_candidates = int(max_candidates)

    def sample(self, nodes: Optional[Tensor] = None, seed: Optional[int] = None) -> Tensor:
        """Tokens ``[len(nodes), num_tokens]`` (global ids) of ``nodes`` (default: all).

        Column 0 is the node; a node with no 2-hop neighbour gets ``-1`` tokens.
        The same ``seed`` gives the same tokens whatever the thread count.
        """
        if nodes is None:
            nodes = torch.arange(self.num_nodes)
        nodes = as_index(nodes, "nodes", bound=self.num_nodes).cpu()
        # work: each node's 2-hop walks (mean degree squared, capped)
        walks = min(self.max_candidates, (self.col.size / max(self.num_nodes, 1)) ** 2)
        work = int(nodes.numel() * walks)
        threads = max(1, min(threads_for(work), nodes.numel()))
        tokens = run_kernel(_kernels.two_hop_tokens, work, self.rowptr, self.col, nodes.numpy(),
                            self.num_tokens - 1, self.max_candidates,
                            np.uint64(draw_base(seed)), threads)
        return torch.cat([nodes.unsqueeze(1), torch.from_numpy(tokens)], dim=1)
