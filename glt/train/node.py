"""Node classification: one training loop over any batch source (the whole
graph, sampled neighbourhoods, LargeGT token batches) with best-validation
selection, patience, checkpoints and exact resume, AMP and data parallelism."""
from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.node import NodeDataset
from glt.samplers.shard import Shard
from glt.train.checkpoint import (copy_weights, data_fingerprint, resume_checkpoint, run_identity,
                                  save_checkpoint)
from glt.train.distributed import data_parallel
from glt.train.metrics import accuracy, epoch_loss, node_loss
from glt.train.selection import RunResult, Selection
from glt.train.sources import BatchSource, FullGraph, Predict, autocast, full_graph_predict

Score = Callable[[Tensor, Tensor], float]  # (logits [n, C], y [n]) -> figure


@dataclass
class NodeTrainConfig:
    """Settings of one node-classification run.

    ``optimizer``: ``"adam"`` (``weight_decay`` as an L2 term in the gradient,
    the Planetoid setting of GCN and GAT) or ``"adamw"`` (decoupled, LargeGT's).
    Evaluations happen every ``eval_every`` epochs after ``eval_after`` and at
    the last epoch; ``patience`` counts evaluations without a better validation
    score or loss. ``amp``: bfloat16 autocast for the forward passes.
    """

    epochs: int
    lr: float
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: Optional[int] = None
    eval_every: int = 1
    eval_after: int = 0
    select: str = "acc"
    ties: str = "first"
    amp: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.epochs, self.eval_every) < 1 or self.eval_after < 0:
            raise ValueError(f"expected epochs >= 1, eval_every >= 1 and eval_after >= 0, got "
                             f"{self.epochs}, {self.eval_every} and {self.eval_after}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"expected patience >= 1 or None, got {self.patience}")
        for name, value, allowed in (("optimizer", self.optimizer, _OPTIMIZERS),
                                     ("select", self.select, ("acc", "loss")),
                                     ("ties", self.ties, ("first", "loss"))):
            if value not in allowed:
                raise ValueError(f"expected {name} one of {sorted(allowed)}, got {value!r}")

    def evaluates(self, epoch: int) -> bool:
        return epoch == self.epochs or (epoch > self.eval_after and epoch % self.eval_every == 0)


_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _nodes(mask: Tensor) -> Tensor:
    return mask.nonzero().view(-1)


def train_nodes(model: nn.Module, source: BatchSource, data: NodeDataset,
                config: NodeTrainConfig, score: Optional[Score] = None,
                checkpoint: Optional[str] = None, shard: Shard = Shard(),
                progress: bool = False, settings: Optional[dict[str, Any]] = None
                ) -> RunResult:
    """Train ``model`` on ``source``'s batches of ``data``'s training nodes and
    report the selected validation epoch (``score(logits, y)``: default accuracy;
    pass an OGB evaluator's there).

    ``checkpoint``: a folder; the run writes ``seed<seed>.pt`` there after every
    epoch (rank 0), with the selected epoch's weights (``best_model``) beside the
    last ones, and, started again, resumes from it exactly (same batches,
    samples and dropout) or, when it had finished, returns its result at once.
    ``settings`` (the model's hyperparameters) join ``config`` in the checkpoint's
    identity. With several ranks (torchrun, ``shard``) each rank trains on its
    share of every epoch's batches and DistributedDataParallel averages the
    gradients; every rank evaluates the same weights on the same samples.
    """
    score = score or accuracy
    if shard.active and not source.split:
        raise ValueError(f"{type(source).__name__} trains on the whole graph at every step, "
                         "which is not split across ranks: run it in one process")
    device = data.y.device
    optimizer = _OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr,
                                              weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)  # the same order on every rank
    state: dict[str, Any] = {"epoch": 0, "seconds": 0.0, "best": asdict(Selection()),
                             "stopped": False}
    path = os.path.join(checkpoint, f"seed{config.seed}.pt") if checkpoint else None
    identity: dict[str, Any] = {}
    best_weights = None
    if path:
        identity = run_identity(model, data_fingerprint(*source.arrays()),
                                {**(settings or {}), **asdict(config)})
        if os.path.exists(path):
            state, best_weights = resume_checkpoint(path, identity, model, optimizer, generator)
    best = Selection(**state["best"])
    net = data_parallel(model, shard)
    val, test = _nodes(data.val_mask), _nodes(data.test_mask)
    nodes = torch.cat([val, test])
    while state["epoch"] < config.epochs and not state["stopped"]:
        start = time.perf_counter()
        epoch = state["epoch"] = state["epoch"] + 1
        model.train()
        batches = source.batches(epoch, config.seed, shard, generator)
        total = len(batches) if hasattr(batches, "__len__") else None
        # one iterator: tqdm.auto calls iter() on what it is given, and a loader's
        # iter() starts an epoch
        loss_sum, steps = 0.0, 0  # a tensor on the loss's device after a step: no sync
        for batch in tqdm(iter(batches), total=total, desc=f"epoch {epoch}", leave=False,
                          disable=not (progress and shard.is_main)):
            optimizer.zero_grad()
            with autocast(device, config.amp):
                loss = source.loss(net, batch)
            loss.backward()
            optimizer.step()
            loss_sum, steps = loss_sum + loss.detach().float(), steps + 1
        epoch_loss(loss_sum, steps, epoch)
        if config.evaluates(epoch):
            logits = source.predict(model, nodes, config.seed, config.amp)
            y = data.y[nodes.to(device)].to(logits.device)
            n = val.numel()
            val_loss = float(node_loss(logits[:n], y[:n]))
            best.offer(epoch, score(logits[:n], y[:n]), lambda: score(logits[n:], y[n:]),
                       val_loss, config.select, config.ties)
            if path and shard.is_main and best.epoch == epoch:  # the rank that saves
                best_weights = copy_weights(model)
            state["stopped"] = config.patience is not None and best.stale >= config.patience
        state["seconds"] += time.perf_counter() - start
        state["best"] = asdict(best)
        if path and shard.is_main:
            save_checkpoint(path, identity, model, optimizer, generator, state,
                            best_model=best_weights)
    return best.result(config.seed, state["epoch"], state["seconds"])


def repeat_runs(make_model: Callable[[], nn.Module], train: Callable[[nn.Module, int], RunResult],
                runs: int, seed: int = 0, progress: bool = True) -> list[RunResult]:
    """``runs`` fresh models from ``make_model`` with seeds ``seed .. seed + runs - 1``
    (everything seeded first), each trained by ``train(model, seed)``."""
    if runs < 1:
        raise ValueError(f"expected runs >= 1, got {runs}")
    results = []
    bar = tqdm(range(seed, seed + runs), desc="runs", disable=not progress)
    for run_seed in bar:
        seed_everything(run_seed)
        results.append(train(make_model(), run_seed))
        bar.set_postfix(test=f"{results[-1].test_acc:.4f}")
    return results


def train_full_batch(model: nn.Module, data: NodeDataset, epochs: int, lr: float,
                     weight_decay: float = 0.0, patience: Optional[int] = None,
                     seed: int = 0, train_loss: Optional[Predict] = None,
                     predict: Predict = full_graph_predict, select: str = "acc",
                     score: Optional[Score] = None) -> RunResult:
    """:func:`train_nodes` on the whole graph with Adam, evaluating every epoch:
    the best validation accuracy (ties: lower validation loss), or the lowest
    validation loss with ``select="loss"``. ``train_loss(model, data)`` and
    ``predict(model, data) -> [N, C]`` as in :class:`~glt.train.sources.FullGraph`.
    """
    source = FullGraph(data, predict=predict) if train_loss is None else \
        FullGraph(data, train_loss, predict)
    config = NodeTrainConfig(epochs, lr, weight_decay, patience=patience, select=select,
                             ties="loss", seed=seed)
    return train_nodes(model, source, data, config, score)
