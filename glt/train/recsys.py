"""Training loop shared by glt's recommendation models (LightGCN, UltraGCN).

A model provides ``batches(sampler, batch_size, generator)`` (one epoch of
training batches), ``loss(*batch)`` and ``scorer()`` (for full-ranking
evaluation). The loop adds evaluation every few epochs, early stopping on a
metric, JSON-ready history, and checkpoints written atomically after every
epoch, so a killed run resumes from its last finished epoch.

Under torchrun (a :class:`~glt.train.distributed.Shard` with several ranks) each
rank trains on its share of every epoch's batches (``generator`` is the same on
all ranks, ``local`` is the rank's own), gradients are averaged by
DistributedDataParallel, every rank evaluates the same weights (so they agree
on early stopping), and rank 0 alone writes checkpoints and results.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.rec import RecDataset
from glt.samplers import NegativeSampler
from glt.train.checkpoint import (copy_weights, data_fingerprint, resume_checkpoint,
                                  run_identity, save_checkpoint)
from glt.train.distributed import LossModule, Shard, data_parallel
from glt.train.metrics import epoch_loss
from glt.train.ranking import Scorer, rank_metrics
from glt.train.selection import Selection


class RecModel(Protocol):
    # L2 weight on every parameter that the optimiser applies (Adam's weight_decay);
    # 0 where the loss holds all of its terms' gradients
    weight_decay: float

    def batches(self, sampler: NegativeSampler, batch_size: int, generator: torch.Generator,
                shard: Shard = Shard(), local: Optional[torch.Generator] = None
                ) -> Iterable[tuple[Tensor, ...]]: ...

    def loss(self, *batch: Tensor) -> Tensor: ...

    def scorer(self) -> Scorer: ...


@dataclass
class RecTrainConfig:
    """Settings of one training run."""

    epochs: int = 1000
    batch_size: int = 2048
    lr: float = 1e-3
    eval_every: int = 10
    # evaluate every epoch after this one (the UltraGCN authors' schedule: 50)
    eval_every_after: Optional[int] = None
    # evaluations without a better metric before stopping (the UltraGCN code's count)
    patience: Optional[int] = None
    metric: str = "recall@20"
    ks: Sequence[int] = (20,)
    seed: int = 0
    eval_chunk: int = 1024


@dataclass
class RecRunState:
    """What a checkpoint carries besides the weights: the epochs done, the
    :class:`~glt.train.selection.Selection` over the evaluations (as a dict), every
    ranking metric at the selected evaluation, the per-epoch history."""

    epoch: int = 0
    selection: dict[str, Any] = field(default_factory=lambda: asdict(Selection()))
    best: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds_train: float = 0.0

    @property
    def best_epoch(self) -> int:
        """The selected evaluation's epoch (-1 before the first evaluation)."""
        return self.selection["epoch"] if self.best else -1


def adam(params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0
         ) -> torch.optim.Optimizer:
    """Adam with torch's fused update where this torch has one for the parameters'
    device (one pass over all parameters; the embedding tables' update is a large
    part of a recommendation step), else torch's default implementation. The
    two agree to float rounding. ``weight_decay``: L2 coupled as in ``torch.optim.Adam``
    (``weight_decay * p`` joins the gradient)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def rec_fingerprint(data: RecDataset) -> str:
    """The checkpoints' fingerprint of ``data``: its train and test interactions."""
    return data_fingerprint(data.train.rowptr, data.train.col, data.test.rowptr, data.test.col)


def _identity(model: nn.Module, data: RecDataset, config: RecTrainConfig,
              settings: Optional[dict[str, Any]]) -> dict[str, Any]:
    """The model, the train / test interactions and every setting that changes them."""
    return run_identity(model, rec_fingerprint(data), {**(settings or {}), **asdict(config)})


def evaluate(model: RecModel, data: RecDataset, ks: Sequence[int] = (20,),
             chunk_size: int = 1024) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on ``data``'s test interactions."""
    with torch.no_grad():
        return rank_metrics(model.scorer(), data.train, data.test, ks, chunk_size)


def _evaluates(config: RecTrainConfig, epoch: int) -> bool:
    return epoch % config.eval_every == 0 or epoch == config.epochs or (
        config.eval_every_after is not None and epoch > config.eval_every_after)


def fit(model: nn.Module, data: RecDataset, config: RecTrainConfig,
        checkpoint: Optional[str] = None, progress: bool = True,
        on_eval: Optional[Callable[[RecRunState], None]] = None,
        shard: Shard = Shard(), settings: Optional[dict[str, Any]] = None) -> RecRunState:
    """Train ``model`` (a :class:`RecModel`) on ``data``; resume from ``checkpoint``
    when it exists, and write it after every epoch (with the best evaluation's
    weights beside the last ones).

    Evaluates every ``config.eval_every`` epochs, every epoch after
    ``config.eval_every_after`` when set, and at the last one; keeps the
    best ``config.metric`` (its epoch and all metrics; the shared
    :class:`~glt.train.selection.Selection`) and stops early after
    ``config.patience`` evaluations without improvement. ``on_eval`` sees the state
    after each evaluation on rank 0 (its last ``history`` entry holds the
    figures; the recipes report progress and write their JSON there). ``settings``
    (the model's hyperparameters) join ``config`` in the checkpoint's identity.
    """
    if config.metric.split("@")[0] not in ("recall", "ndcg", "precision", "hit") or \
            int(config.metric.split("@")[1]) not in config.ks:
        raise ValueError(f"expected metric like 'recall@K' with K in ks={list(config.ks)}, "
                         f"got {config.metric!r}")
    device = next(model.parameters()).device
    opt = adam(model.parameters(), config.lr, model.weight_decay)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    identity = _identity(model, data, config, settings) if checkpoint else {}
    state, best_weights = RecRunState(), None
    if checkpoint and os.path.exists(checkpoint):
        loop, best_weights = resume_checkpoint(checkpoint, identity, model, opt, gen)
        state = RecRunState(**loop)
        for group in opt.param_groups:  # the model's, whatever an older checkpoint held
            group["weight_decay"] = model.weight_decay
    sampler = NegativeSampler(data.train.to(device))
    step = data_parallel(LossModule(model, lambda m, *batch: m.loss(*batch)), shard)
    progress = progress and shard.is_main
    selection = Selection(**state.selection)
    while state.epoch < config.epochs:
        if config.patience is not None and selection.stale >= config.patience:
            break
        model.train()
        t0 = time.perf_counter()
        total, count = torch.zeros((), device=device), 0  # summed on the device: no sync per step
        local = shard.generator(config.seed, state.epoch, device) if shard.active else None
        batches = model.batches(sampler, config.batch_size, gen, shard, local)
        for batch in tqdm(batches, desc=f"epoch {state.epoch + 1}", leave=False,
                          disable=not progress):
            opt.zero_grad()
            loss = step(*batch)
            loss.backward()
            opt.step()
            total += loss.detach()
            count += 1
        mean_loss = epoch_loss(total, count, state.epoch + 1)
        seconds = time.perf_counter() - t0
        state.seconds_train += seconds
        state.epoch += 1
        record: dict[str, Any] = {"epoch": state.epoch, "loss": mean_loss, "seconds": seconds}
        if _evaluates(config, state.epoch):
            model.eval()
            metrics = evaluate(model, data, config.ks, config.eval_chunk)
            record.update(metrics)
            figure = metrics[config.metric]  # the protocol's test figure selects
            selection.offer(state.epoch, figure, lambda: figure)
            if selection.epoch == state.epoch:
                state.best = metrics
                if checkpoint and shard.is_main:  # the saving rank keeps them (as UltraGCN's
                    # code keeps its best weights beside the last)
                    best_weights = copy_weights(model)
            state.selection = asdict(selection)
        state.history.append(record)
        if checkpoint and shard.is_main:
            save_checkpoint(checkpoint, identity, model, opt, gen, asdict(state),
                            best_model=best_weights)
        if config.metric in record and on_eval is not None and shard.is_main:
            on_eval(state)
    return state
