"""Mini-batch node classification over :class:`glt.samplers.NeighborLoader`
batches: train on sampled subgraphs of the training nodes, evaluate the
validation and test nodes on their sampled subgraphs or on the whole graph,
select the best validation epoch."""
from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.node import NodeDataset
from glt.samplers.loader import MiniBatch, NeighborLoader
from glt.train.distributed import Shard, data_parallel
from glt.train.metrics import accuracy
from glt.train.node import Predict, RunResult, Selection

BatchLoss = Callable[[nn.Module, MiniBatch], Tensor]
BatchPredict = Callable[[nn.Module, MiniBatch], Tensor]  # -> logits of the seeds [B, C]


def _predict(model: nn.Module, batch: MiniBatch) -> Tensor:
    return model(batch.x, batch.graph)[:batch.batch_size]


def _loss(model: nn.Module, batch: MiniBatch) -> Tensor:
    return F.cross_entropy(_predict(model, batch), batch.y)


@torch.no_grad()
def predict_nodes(model: nn.Module, data: NodeDataset, nodes: Tensor, fanouts: Sequence[int],
                  batch_size: int = 4096, predict: BatchPredict = _predict,
                  seed: int = 0) -> Tensor:
    """Logits ``[len(nodes), C]`` of ``nodes``, each from its own sampled subgraph."""
    model.eval()
    loader = NeighborLoader(data.graph, fanouts, input_nodes=nodes, batch_size=batch_size,
                            x=data.x, seed=seed)
    return torch.cat([predict(model, batch) for batch in loader])


def train_mini_batch(model: nn.Module, data: NodeDataset, fanouts: Sequence[int],
                     batch_size: int, epochs: int, lr: float, weight_decay: float = 0.0,
                     seed: int = 0, train_loss: BatchLoss = _loss,
                     predict: BatchPredict = _predict, eval_every: int = 1,
                     eval_batch_size: int = 4096, progress: bool = False,
                     score: Optional[Callable[[Tensor, Tensor], float]] = None,
                     shard: Shard = Shard(), full_predict: Optional[Predict] = None,
                     eval_after: int = 0) -> RunResult:
    """Train ``model(x, graph) -> logits`` with Adam on batches of ``batch_size``
    training seeds and their ``fanouts`` neighbourhoods.

    Every ``eval_every`` epochs after ``eval_after`` (and at the last) the
    validation and test nodes are scored (``score(logits, y)``, default accuracy;
    pass an OGB evaluator's there) on their own sampled neighbourhoods, or, with
    ``full_predict(model, data) -> logits [N, C]`` (e.g.
    :func:`~glt.train.node.full_graph_predict`), from one pass over the whole
    graph: every neighbour, as PyG's layer-wise ``inference`` in the OGB examples.
    The reported accuracies are those of the best validation epoch.
    ``train_loss(model, batch)`` and ``predict(model, batch)`` let models with
    other inputs (local augmentation) share the loop.

    With several ranks (torchrun, ``shard``) each trains on an equal share of the
    training nodes with its own sampler seed and DistributedDataParallel averages
    the gradients; every rank evaluates the same weights on the same samples.
    """
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"expected epochs >= 1 and eval_every >= 1, got {epochs} and "
                         f"{eval_every}")
    if eval_after < 0:
        raise ValueError(f"expected eval_after >= 0, got {eval_after}")
    score = score or accuracy
    start = time.perf_counter()
    train_nodes = shard.split(data.train_mask.nonzero().view(-1))
    loader = NeighborLoader(data.graph, fanouts, input_nodes=train_nodes, batch_size=batch_size,
                            shuffle=True, x=data.x, y=data.y,
                            seed=shard.seed(seed))
    net = data_parallel(model, shard)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    val_nodes, test_nodes = data.val_mask.nonzero().view(-1), data.test_mask.nonzero().view(-1)
    best = Selection()
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in tqdm(loader, desc=f"epoch {epoch}", leave=False,
                          disable=not (progress and shard.is_main)):
            optimizer.zero_grad()
            train_loss(net, batch).backward()
            optimizer.step()
        if epoch != epochs and (epoch <= eval_after or epoch % eval_every):
            continue
        nodes = torch.cat([val_nodes, test_nodes])
        if full_predict is None:
            logits = predict_nodes(model, data, nodes, fanouts, eval_batch_size, predict, seed)
        else:
            model.eval()
            with torch.no_grad():
                logits = full_predict(model, data)[nodes]
        best.update(epoch, logits, data.y[val_nodes], data.y[test_nodes], score)
    return best.result(seed, epochs, time.perf_counter() - start)
