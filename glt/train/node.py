"""Full-batch node classification: train, select at the best validation epoch, repeat."""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.node import NodeDataset
from glt.train.metrics import accuracy, mean_std


@dataclass
class RunResult:
    """Outcome of one training run, read at the selected (best validation) epoch."""

    seed: int
    val_acc: float
    test_acc: float
    best_epoch: int
    epochs: int
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (epoch, validation score)


@dataclass
class Selection:
    """Best-validation selection over a run's evaluations: every validation score
    goes on ``curve``, the test score is read at each improvement."""

    val: float = -1.0
    test: float = 0.0
    epoch: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)

    def update(self, epoch: int, logits: Tensor, y_val: Tensor, y_test: Tensor,
               score: Callable[[Tensor, Tensor], float]) -> None:
        """Score ``logits [n_val + n_test, C]`` (validation rows first) of ``epoch``."""
        n = y_val.numel()
        self.offer(epoch, score(logits[:n], y_val), lambda: score(logits[n:], y_test))

    def offer(self, epoch: int, val: float, test: Callable[[], float]) -> None:
        """Record validation score ``val`` of ``epoch``; on an improvement keep it
        and read the test score (``test()``)."""
        self.curve.append((epoch, val))
        if val > self.val:
            self.val, self.epoch = val, epoch
            self.test = test()

    def result(self, seed: int, epochs: int, seconds: float) -> RunResult:
        return RunResult(seed, self.val, self.test, self.epoch, epochs, seconds,
                         [tuple(point) for point in self.curve])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


Predict = Callable[[nn.Module, NodeDataset], Tensor]  # -> logits [N, C]


def full_graph_predict(model: nn.Module, data: NodeDataset) -> Tensor:
    """``model(data.x, data.graph)``: logits ``[N, C]`` of every node from one pass."""
    return model(data.x, data.graph)


def _train_loss(model: nn.Module, data: NodeDataset) -> Tensor:
    out = model(data.x, data.graph)
    return F.cross_entropy(out[data.train_mask], data.y[data.train_mask])


def train_full_batch(model: nn.Module, data: NodeDataset, epochs: int, lr: float,
                     weight_decay: float, patience: Optional[int] = None,
                     seed: int = 0, train_loss: Predict = _train_loss,
                     predict: Predict = full_graph_predict, select: str = "acc",
                     score: Optional[Callable[[Tensor, Tensor], float]] = None) -> RunResult:
    """Train ``model(x, graph) -> logits`` with Adam on ``data.train_mask``.

    ``train_loss(model, data)`` (default: cross-entropy on the training nodes)
    and ``predict(model, data)`` (default: ``model(data.x, data.graph)``) let
    models with other inputs (local augmentation) share the loop. ``select="loss"``
    reports the epoch of lowest validation loss instead (the LA-GNN code's rule).
    ``score(logits, y)`` replaces accuracy (e.g. an OGB evaluator's).

    Every epoch evaluates validation loss/accuracy; the reported accuracies are
    those of the epoch with the best validation accuracy (ties: lower
    validation loss). With ``patience``, training stops once neither validation
    accuracy nor loss has improved for that many epochs (the GAT paper's rule).
    """
    if epochs < 1:
        raise ValueError(f"expected epochs >= 1, got {epochs}")
    if select not in ("acc", "loss"):
        raise ValueError(f"expected select 'acc' or 'loss', got {select!r}")
    score = score or accuracy
    start = time.perf_counter()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_val_acc, best_val_loss, best_test_acc, best_epoch = -1.0, float("inf"), 0.0, 0
    min_val_loss, stale = float("inf"), 0
    epoch, curve = 0, []
    for epoch in range(1, epochs + 1):
        model.train()
        optimizer.zero_grad()
        train_loss(model, data).backward()
        optimizer.step()

        model.eval()
        with torch.no_grad():
            out = predict(model, data)
        val_loss = float(F.cross_entropy(out[data.val_mask], data.y[data.val_mask]))
        val_acc = score(out[data.val_mask], data.y[data.val_mask])
        curve.append((epoch, val_acc))
        improved_acc = val_acc > best_val_acc
        if select == "loss":
            better = val_loss < best_val_loss
        else:
            better = improved_acc or (val_acc == best_val_acc and val_loss < best_val_loss)
        if better:
            best_val_acc, best_val_loss, best_epoch = val_acc, val_loss, epoch
            best_test_acc = score(out[data.test_mask], data.y[data.test_mask])
        if improved_acc or val_loss < min_val_loss:
            min_val_loss, stale = min(min_val_loss, val_loss), 0
        else:
            stale += 1
            if patience is not None and stale >= patience:
                break
    return RunResult(seed, best_val_acc, best_test_acc, best_epoch, epoch,
                     time.perf_counter() - start, curve)


def repeat_runs(make_model: Callable[[], nn.Module], data: NodeDataset, runs: int,
                seed: int = 0, progress: bool = True,
                train: Callable[..., RunResult] = train_full_batch, **train_kwargs) -> dict:
    """Train ``runs`` fresh models with seeds ``seed .. seed + runs - 1`` through
    ``train(model, data, seed=..., **train_kwargs)`` (full-batch by default;
    :func:`glt.train.minibatch.train_mini_batch` for sampled batches).

    Returns a summary dict: ``test_acc``/``val_acc`` means and ``*_std``, the
    mean number of ``epochs`` run, total ``seconds``, ``runs`` and ``per_run``.
    """
    if runs < 1:
        raise ValueError(f"expected runs >= 1, got {runs}")
    results = []
    bar = tqdm(range(runs), desc="runs", disable=not progress)
    for r in bar:
        seed_everything(seed + r)
        model = make_model().to(data.x.device)
        results.append(train(model, data, seed=seed + r, **train_kwargs))
        bar.set_postfix(test_acc=f"{results[-1].test_acc:.4f}")
    test_mean, test_std = mean_std([r.test_acc for r in results])
    val_mean, val_std = mean_std([r.val_acc for r in results])
    return {"test_acc": test_mean, "test_acc_std": test_std, "val_acc": val_mean,
            "val_acc_std": val_std, "epochs": sum(r.epochs for r in results) / runs,
            "seconds": sum(r.seconds for r in results), "runs": runs,
            "per_run": [asdict(r) for r in results]}
