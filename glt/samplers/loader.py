"""``NeighborLoader``: mini-batches of sampled subgraphs, prepared in the background."""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import torch
from torch import Tensor

from glt._checks import as_index, as_int
from glt.graph import CSRGraph
from glt.ops._csr import gather_rows
from glt.samplers._seed import derive, draw_base
from glt.samplers.neighbor import NeighborSampler, SampledSubgraph


@dataclass
class MiniBatch(SampledSubgraph):
    """A ``SampledSubgraph`` with the features of its nodes and the labels of its seeds.

    Train on it as on a small graph and read the first ``batch_size`` rows:
    ``model(batch.x, batch.graph)[:batch.batch_size]`` against ``batch.y``.
    """

    x: Optional[Tensor] = None  #: ``[n, F]`` features of ``node``
    y: Optional[Tensor] = None  #: ``[batch_size]`` labels of the seeds


class _Stop(Exception):
    pass


class NeighborLoader:
    """Iterates over seed nodes in batches, yielding sampled :class:`MiniBatch` es.

    Args:
        graph: a ``CSRGraph``.
        fanouts: neighbours per node and hop, e.g. ``[15, 10, 5]`` (``-1``: all).
        input_nodes: seed nodes, as ids ``[S]`` or a bool mask ``[N]`` (default: all).
        batch_size: seeds per batch.
        shuffle: reshuffle the seeds at every epoch.
        drop_last: drop a last batch smaller than ``batch_size``.
        replace: sample neighbours with replacement.
        x: ``[N, F]`` node features gathered for each batch (optional).
        y: ``[N]`` labels gathered for the seeds (optional).
        seed: makes every epoch's order and samples repeatable (epoch ``e``
            of a loader built with seed ``s`` is the same in every run).
        prefetch: batches prepared ahead by a background thread (``0``: none).
            At most ``prefetch`` batches wait in memory.
        engine: sampler engine, see :class:`NeighborSampler`.
    """

    def __init__(self, graph: CSRGraph, fanouts: Sequence[int],
                 input_nodes: Optional[Tensor] = None, batch_size: int = 1024,
                 shuffle: bool = False, drop_last: bool = False, replace: bool = False,
                 x: Optional[Tensor] = None, y: Optional[Tensor] = None,
                 seed: Optional[int] = None, prefetch: int = 2, engine: str = "auto") -> None:
        self.sampler = NeighborSampler(graph, fanouts, replace=replace, engine=engine)
        n = graph.num_nodes
        if input_nodes is None:
            input_nodes = torch.arange(n, device=graph.device)
        elif isinstance(input_nodes, Tensor) and input_nodes.dtype == torch.bool:
            if input_nodes.shape != (n,):
                raise ValueError(f"expected a node mask of shape ({n},), "
                                 f"got {tuple(input_nodes.shape)}")
            input_nodes = input_nodes.nonzero().flatten()
        self.input_nodes = as_index(input_nodes, "input_nodes", bound=n).to(graph.device)
        if self.input_nodes.numel() == 0:
            raise ValueError("expected at least one input node, got none")
        batch_size = as_int(batch_size, "batch_size", minimum=1)
        for name, t in (("x", x), ("y", y)):
            if t is not None and t.size(0) != n:
                raise ValueError(f"expected {name} to have {n} rows (one per node), "
                                 f"got {t.size(0)}")
        prefetch = as_int(prefetch, "prefetch", minimum=0)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.x, self.y, self.seed, self.prefetch = x, y, seed, int(prefetch)
        self.epoch = 0

    def __len__(self) -> int:
        full, rest = divmod(self.input_nodes.numel(), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _epoch_base(self) -> int:
        if self.seed is None:
            return draw_base(None)
        return derive(draw_base(self.seed), self.epoch)

    def _batches(self, base: int) -> list[Tensor]:
        nodes = self.input_nodes
        if self.shuffle:
            gen = torch.Generator().manual_seed(base)
            nodes = nodes[torch.randperm(nodes.numel(), generator=gen).to(nodes.device)]
        batches = list(nodes.split(self.batch_size))
        if self.drop_last and batches and batches[-1].numel() < self.batch_size:
            batches.pop()
        return batches

    def _make(self, seeds: Tensor, base: int) -> MiniBatch:
        s = self.sampler.sample(seeds, seed=base)
        x = None if self.x is None else gather_rows(self.x, s.node.to(self.x.device))
        y = None if self.y is None else self.y[seeds.to(self.y.device)]
        # the CSR of the batch is built here, in the worker, not on the training thread
        return MiniBatch(s.node, s.edge_index, s.edge_id, s.num_sampled_nodes,
                         s.num_sampled_edges, _graph=s.graph, x=x, y=y)

    def __iter__(self) -> Iterator[MiniBatch]:
        base = self._epoch_base()
        self.epoch += 1
        jobs = [(seeds, derive(base, b + 1))
                for b, seeds in enumerate(self._batches(base))]
        if self.prefetch == 0:
            return (self._make(*job) for job in jobs)
        return self._background(jobs)

    def _background(self, jobs: list[tuple[Tensor, int]]) -> Iterator[MiniBatch]:
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item: object) -> None:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise _Stop

        def work() -> None:
            try:
                for job in jobs:
                    put(self._make(*job))
                put(None)
            except _Stop:
                pass
            except BaseException as err:  # handed to the consumer, raised there
                try:
                    put(err)
                except _Stop:
                    pass

        worker = threading.Thread(target=work, name="glt-neighbor-loader", daemon=True)
        worker.start()
        try:
            while True:
                item: Union[MiniBatch, BaseException, None] = ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()
