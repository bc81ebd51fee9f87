"""Where node-classification batches come from: the whole graph, sampled
neighbourhoods, or LargeGT token batches.

A source gives :func:`glt.train.node.train_nodes` one epoch of training batches
(:meth:`batches`), the loss of a batch (:meth:`loss`), the logits of any nodes
(:meth:`predict`) and the arrays that identify its data in a checkpoint
(:meth:`arrays`). ``split`` says whether an epoch's batches can be shared
across data-parallel ranks.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence

import torch
from torch import Tensor, nn

from glt.datasets.node import NodeDataset
from glt.models.largegt import TokenInputs
from glt.samplers.loader import MiniBatch, NeighborLoader
from glt.samplers.shard import Shard
from glt.train.metrics import node_loss

Predict = Callable[[nn.Module, NodeDataset], Tensor]  # -> logits [N, C]
BatchLoss = Callable[[nn.Module, MiniBatch], Tensor]
BatchPredict = Callable[[nn.Module, MiniBatch], Tensor]  # -> logits of the seeds [B, C]


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device`` (CPU or CUDA) when ``enabled``: no loss
    scaling needed, unlike float16."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


class BatchSource(Protocol):
    split: bool  # whether an epoch's batches can be shared across ranks

    def batches(self, epoch: int, seed: int, shard: Shard, generator: torch.Generator
                ) -> Iterable[Any]: ...

    def loss(self, model: nn.Module, batch: Any) -> Tensor: ...

    def predict(self, model: nn.Module, nodes: Tensor, seed: int, amp: bool) -> Tensor: ...

    def arrays(self) -> list[Tensor]: ...


def data_arrays(data: NodeDataset) -> list[Tensor]:
    """The graph, features, labels and split of ``data``, for a checkpoint's
    fingerprint."""
    x = [] if data.x is None else [data.x]
    return [data.graph.rowptr, data.graph.col, *x, data.y, data.train_mask, data.val_mask,
            data.test_mask]


def full_graph_predict(model: nn.Module, data: NodeDataset) -> Tensor:
    """``model(data.x, data.graph)``: logits ``[N, C]`` of every node from one pass."""
    return model(data.x, data.graph)


def _train_loss(model: nn.Module, data: NodeDataset) -> Tensor:
    out = model(data.x, data.graph)
    return node_loss(out[data.train_mask], data.y[data.train_mask])


class FullGraph:
    """One step per epoch on the whole graph.

    ``train_loss(model, data)`` (default: :func:`~glt.train.metrics.node_loss` on
    the training nodes) and ``predict(model, data) -> [N, C]`` (default:
    ``model(data.x, data.graph)``) let models with other inputs (local
    augmentation) train here.
    """

    split = False

    def __init__(self, data: NodeDataset, train_loss: Predict = _train_loss,
                 predict: Predict = full_graph_predict) -> None:
        self.data, self.train_loss, self.full_predict = data, train_loss, predict

    def batches(self, epoch: int, seed: int, shard: Shard, generator: torch.Generator
                ) -> Iterable[NodeDataset]:
        return (self.data,)

    def loss(self, model: nn.Module, batch: NodeDataset) -> Tensor:
        return self.train_loss(model, batch)

    @torch.no_grad()
    def predict(self, model: nn.Module, nodes: Tensor, seed: int, amp: bool) -> Tensor:
        model.eval()
        with autocast(self.data.y.device, amp):
            return self.full_predict(model, self.data)[nodes].float()

    def arrays(self) -> list[Tensor]:
        return data_arrays(self.data)


def _seed_predict(model: nn.Module, batch: MiniBatch) -> Tensor:
    return model(batch.x, batch.graph)[:batch.batch_size]


def _seed_loss(model: nn.Module, batch: MiniBatch) -> Tensor:
    return node_loss(_seed_predict(model, batch), batch.y)


@torch.no_grad()
def predict_nodes(model: nn.Module, data: NodeDataset, nodes: Tensor, fanouts: Sequence[int],
                  batch_size: int = 4096, predict: BatchPredict = _seed_predict,
                  seed: int = 0) -> Tensor:
    """Logits ``[len(nodes), C]`` of ``nodes``, each from its own sampled subgraph."""
    model.eval()
    loader = NeighborLoader(data.graph, fanouts, input_nodes=nodes, batch_size=batch_size,
                            x=data.x, seed=seed)
    return torch.cat([predict(model, batch) for batch in loader])


class Neighbourhoods:
    """Batches of ``batch_size`` training seeds with their sampled ``fanouts``
    neighbourhoods (:class:`~glt.samplers.NeighborLoader`, seeded per run and
    rank, the same batches again on resume).

    Validation and test nodes are scored on their own sampled neighbourhoods
    (``eval_batch_size`` seeds at a time, the same samples at every evaluation)
    or, with ``full_predict(model, data) -> [N, C]`` (e.g.
    :func:`full_graph_predict`), from one pass over the whole graph: every
    neighbour, as PyG's layer-wise ``inference`` in the OGB examples.
    ``train_loss(model, batch)`` and ``predict(model, batch)`` let models with
    other inputs (local augmentation) train here.
    """

    split = True

    def __init__(self, data: NodeDataset, fanouts: Sequence[int], batch_size: int,
                 train_loss: BatchLoss = _seed_loss, predict: BatchPredict = _seed_predict,
                 full_predict: Optional[Predict] = None, eval_batch_size: int = 4096) -> None:
        self.data, self.fanouts, self.batch_size = data, list(fanouts), batch_size
        self.train_loss, self.seed_predict, self.full_predict = train_loss, predict, full_predict
        self.eval_batch_size = eval_batch_size
        self._loader: Optional[NeighborLoader] = None
        self._loader_key: tuple[int, int] = (-1, -1)

    def batches(self, epoch: int, seed: int, shard: Shard, generator: torch.Generator
                ) -> Iterable[MiniBatch]:
        key = (shard.seed(seed), shard.rank)
        if self._loader is None or self._loader_key != key:
            train = shard.split(self.data.train_mask.nonzero().view(-1))
            self._loader = NeighborLoader(self.data.graph, self.fanouts, input_nodes=train,
                                          batch_size=self.batch_size, shuffle=True,
                                          x=self.data.x, y=self.data.y, seed=key[0])
            self._loader_key = key
        self._loader.epoch = epoch - 1  # epoch e draws the same batches in every run
        return self._loader

    def loss(self, model: nn.Module, batch: MiniBatch) -> Tensor:
        return self.train_loss(model, batch)

    @torch.no_grad()
    def predict(self, model: nn.Module, nodes: Tensor, seed: int, amp: bool) -> Tensor:
        model.eval()
        with autocast(self.data.y.device, amp):
            if self.full_predict is not None:
                return self.full_predict(model, self.data)[nodes].float()
            return predict_nodes(model, self.data, nodes, self.fanouts, self.eval_batch_size,
                                 self.seed_predict, seed).float()

    def arrays(self) -> list[Tensor]:
        return data_arrays(self.data)


@torch.no_grad()
def predict_tokens(model: nn.Module, inputs: TokenInputs, nodes: Tensor,
                   batch_size: int = 1024, seed: int = 0, amp: bool = False,
                   samples: int = 1) -> Tensor:
    """Log-probabilities ``[len(nodes), C]`` (float32): the log of the class
    probabilities averaged over ``samples`` token draws (seeds ``seed * samples``
    to ``seed * samples + samples - 1``), which lowers the variance a single
    draw of each node's sampled tokens puts on its prediction."""
    if samples < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")
    model.eval()
    out = []
    with autocast(inputs.x.device, amp):
        for chunk in nodes.split(batch_size):
            draws = torch.stack([model(*inputs(chunk, seed=seed * samples + j)).float()
                                 .log_softmax(-1) for j in range(samples)])  # [S, B, C]
            out.append(draws.logsumexp(0) - math.log(samples))
    return torch.cat(out)


class TokenBatches:
    """LargeGT batches: shuffled training nodes in chunks of ``batch_size``, each
    with freshly sampled tokens (``inputs``); an epoch's order is split across
    ranks, each sampling its own tokens. Evaluation averages the class
    probabilities of ``eval_samples`` token draws (:func:`predict_tokens`)."""

    split = True

    def __init__(self, data: NodeDataset, inputs: TokenInputs, batch_size: int,
                 eval_batch_size: int = 1024, eval_samples: int = 1) -> None:
        if min(batch_size, eval_batch_size, eval_samples) < 1:
            raise ValueError(f"expected positive batch_size, eval_batch_size and eval_samples, "
                             f"got {batch_size}, {eval_batch_size} and {eval_samples}")
        self.data, self.inputs, self.batch_size = data, inputs, batch_size
        self.eval_batch_size, self.eval_samples = eval_batch_size, eval_samples

    def batches(self, epoch: int, seed: int, shard: Shard, generator: torch.Generator
                ) -> Iterable[tuple[Tensor, int]]:
        train = self.data.train_mask.nonzero().view(-1).cpu()
        order = shard.split(train[torch.randperm(train.numel(), generator=generator)])
        return [(chunk, shard.seed(seed * 1_000_003 + epoch * 1009 + i))
                for i, chunk in enumerate(order.split(self.batch_size))]

    def loss(self, model: nn.Module, batch: tuple[Tensor, int]) -> Tensor:
        chunk, token_seed = batch
        logits = model(*self.inputs(chunk, seed=token_seed))
        return node_loss(logits.float(), self.data.y[chunk.to(self.data.y.device)])

    def predict(self, model: nn.Module, nodes: Tensor, seed: int, amp: bool) -> Tensor:
        return predict_tokens(model, self.inputs, nodes.cpu(), self.eval_batch_size, seed, amp,
                              self.eval_samples)

    def arrays(self) -> list[Tensor]:
        return token_arrays(self.data, self.inputs)


def token_arrays(data: NodeDataset, inputs: TokenInputs) -> list[Tensor]:
    """The graph, token features, labels, split and positional encoding of a
    LargeGT run, for a checkpoint's fingerprint."""
    pos = [] if inputs.pos is None else [inputs.pos]
    return [data.graph.rowptr, data.graph.col, inputs.x, data.y, data.train_mask,
            data.val_mask, data.test_mask, *pos]
