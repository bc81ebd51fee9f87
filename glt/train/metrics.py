"""Classification metrics and run summaries."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Union

import torch.nn.functional as F
from torch import Tensor


def node_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of ``logits [n, C]`` against class ids ``y [n]``; against ``T``
    binary tasks ``y [n, T]`` (ogbn-proteins), the mean binary cross-entropy with
    logits over every node and task, as OGB's example (``BCEWithLogitsLoss``)."""
    if y.dim() == 2:
        return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of rows of ``logits [N, C]`` whose argmax equals ``y [N]``."""
    if logits.dim() != 2 or y.dim() != 1 or y.is_floating_point():
        raise ValueError(f"expected logits [N, C] and integer labels y [N], got shapes "
                         f"{tuple(logits.shape)} and {tuple(y.shape)} ({y.dtype})")
    if logits.size(0) != y.size(0):
        raise ValueError(f"expected logits and y to have the same number of rows, got "
                         f"{logits.size(0)} and {y.size(0)}")
    if y.numel() == 0:
        raise ValueError("expected at least one row to score, got none")
    return float((logits.argmax(dim=-1) == y).float().mean())


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        raise ValueError("expected at least one value, got none")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def epoch_loss(total: Union[Tensor, float], steps: int, epoch: int) -> float:
    """The mean training loss of ``epoch``, from the sum ``total`` of its ``steps``
    batches' losses; a NaN or infinite mean (a diverged run, whose weights are no
    longer numbers) raises ``FloatingPointError`` before the epoch is evaluated or
    saved, so a checkpoint keeps the epoch before."""
    mean = float(total) / max(steps, 1)
    if not math.isfinite(mean):
        kept = f" (a checkpoint keeps epoch {epoch - 1})" if epoch > 1 else ""
        raise FloatingPointError(f"training diverged: the mean loss of epoch {epoch} is {mean}; "
                                 f"nothing of epoch {epoch} was saved{kept}. A lower learning "
                                 f"rate (--lr) may help")
    return mean


def dataset_score(data: Any) -> Optional[Callable[[Tensor, Tensor], float]]:
    """``score(logits [n, C], y [n])`` by the official OGB Evaluator for an OGB
    node set (its metric: accuracy of the argmax, or ogbn-proteins' ROC-AUC of
    the logits against ``y [n, T]``), else None (callers fall back to
    :func:`accuracy`)."""
    if data.info is None or data.info.source != "ogb":
        return None
    evaluator = data.evaluator()
    metric = evaluator.eval_metric

    def score(logits: Tensor, y: Tensor) -> float:
        if y.dim() == 2:  # T binary tasks: the scores themselves are ranked
            return float(evaluator.eval({"y_true": y.cpu(), "y_pred": logits.cpu()})[metric])
        return float(evaluator.eval({"y_true": y.view(-1, 1).cpu(),
                                     "y_pred": logits.argmax(-1).view(-1, 1).cpu()})[metric])
    return score
