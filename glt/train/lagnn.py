"""Training pieces of local augmentation (LA-GNN): fresh generated feature sets
every step, mean NLL over ``samples`` forward passes plus a consistency term."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt.datasets.node import NodeDataset
from glt.models.lagnn.cvae import CVAE
from glt.models.lagnn.model import consistency_loss
from glt.train.node import Predict


def augmentation(cvae: CVAE, raw_x: Tensor, x: Tensor, num_inputs: int,
                 normalize: Callable[[Tensor], Tensor]
                 ) -> Callable[[], list[Tensor]]:
    """A function returning ``[x, x_hat_1, ..., x_hat_{num_inputs-1}]``: the model's
    features and freshly generated sets (decoded from ``raw_x``, then ``normalize``d)."""
    sample = cvae.sampler(raw_x)

    def draw() -> list[Tensor]:
        return [x] + [normalize(sample(None)) for _ in range(num_inputs - 1)]
    return draw


def la_objective(draw: Callable[[], list[Tensor]], samples: int, lam: float,
                 temperature: float) -> tuple[Predict, Predict]:
    """``(train_loss, predict)`` for :func:`glt.train.node.train_full_batch`:
    the loss averages the training NLL of ``samples`` passes, each on freshly
    generated sets, and adds ``lam`` x the consistency loss at ``temperature``;
    prediction uses one fresh draw."""
    if samples < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")

    def train_loss(model: nn.Module, data: NodeDataset) -> Tensor:
        log_probs = [F.log_softmax(model(draw(), data.graph), dim=-1) for _ in range(samples)]
        nll = torch.stack([F.nll_loss(lp[data.train_mask], data.y[data.train_mask])
                           for lp in log_probs]).mean()
        return nll + lam * consistency_loss(log_probs, temperature)

    def predict(model: nn.Module, data: NodeDataset) -> Tensor:
        return model(draw(), data.graph)
    return train_loss, predict
