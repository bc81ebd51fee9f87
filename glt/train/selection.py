"""Best-validation selection over a run's evaluations, and a run's outcome:
shared by the node-classification, link-prediction and recommendation loops."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


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
    goes on ``curve``; the test score is read at each selected evaluation.

    ``select="acc"``: the highest validation score, ties going to the lower
    validation loss when ``ties="loss"`` and to the first when ``ties="first"``;
    ``select="loss"``: the lowest validation loss (the LA-GNN code's rule).
    ``stale`` counts evaluations since the validation score or loss last improved
    (the GAT paper's patience rule).
    """

    val: float = -1.0
    test: float = 0.0
    epoch: int = 0
    val_loss: float = float("inf")
    min_val_loss: float = float("inf")
    stale: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)

    def offer(self, epoch: int, val: float, test: Callable[[], float],
              val_loss: float = float("inf"), select: str = "acc", ties: str = "first"
              ) -> None:
        """Record validation score ``val`` (and loss ``val_loss``) of ``epoch``; when
        selected, keep it and read the test score (``test()``)."""
        self.curve.append((epoch, val))
        improved = val > self.val
        if select == "loss":
            better = val_loss < self.val_loss
        else:
            better = improved or (ties == "loss" and val == self.val
                                  and val_loss < self.val_loss)
        if improved or val_loss < self.min_val_loss:
            self.min_val_loss, self.stale = min(self.min_val_loss, val_loss), 0
        else:
            self.stale += 1
        if better:
            self.val, self.val_loss, self.epoch = val, val_loss, epoch
            self.test = test()

    def result(self, seed: int, epochs: int, seconds: float) -> RunResult:
        return RunResult(seed, self.val, self.test, self.epoch, epochs, seconds,
                         [tuple(point) for point in self.curve])
