"""A k-means codebook kept by exponential moving averages (LargeGT's global module)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glt._collective import sum_across_ranks


class EMACodebook(nn.Module):
    r"""``C`` centroids of ``dim``-dimensional points, updated in training by
    exponential-moving-average k-means (van den Oord et al. 2017's VQ-VAE update,
    as GOAT and LargeGT use it):

    .. math::
        N_c \leftarrow \gamma N_c + (1 - \gamma) n_c, \quad
        S_c \leftarrow \gamma S_c + (1 - \gamma) \textstyle\sum_{x \to c} x, \quad
        e_c = S_c / \tilde N_c

    with :math:`n_c` the batch's points nearest to centroid :math:`c`, decay
    :math:`\gamma` and Laplace-smoothed counts
    :math:`\tilde N_c = (N_c + \epsilon) / (N + C \epsilon) \cdot N`.
    Points are batch-normalised (no affine) before assignment. Under data
    parallelism :math:`n_c` and the sums run over every rank's points, so all
    ranks keep the centroids one process would on their joined batches.
    """

    def __init__(self, num_codes: int, dim: int, decay: float = 0.99, eps: float = 1e-5) -> None:
        super().__init__()
        if num_codes < 1 or not 0.0 <= decay < 1.0:
            raise ValueError(f"expected num_codes >= 1 and 0 <= decay < 1, got {num_codes} "
                             f"and {decay}")
        self.num_codes, self.dim, self.decay, self.eps = num_codes, dim, decay, eps
        self.norm = nn.BatchNorm1d(dim, affine=False)
        self.register_buffer("codes", torch.randn(num_codes, dim))
        self.register_buffer("cluster_size", torch.ones(num_codes))
        self.register_buffer("code_sum", self.codes.clone())

    def assign(self, x: Tensor) -> Tensor:
        """Index ``[n]`` of the nearest centroid of each (normalised) point ``x [n, dim]``."""
        return torch.cdist(x, self.codes).argmin(1)

    def update(self, x: Tensor) -> Tensor:
        """Assign already normalised points ``x [n, dim]``, move the centroids
        (in training only) and return the assignments ``[n]``."""
        if x.dim() != 2 or x.size(1) != self.dim:
            raise ValueError(f"expected points of shape [n, {self.dim}], got {tuple(x.shape)}")
        x = x.detach().float()  # k-means statistics in float32, also under autocast
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            idx = self.assign(x)
            if self.training:
                onehot = F.one_hot(idx, self.num_codes).to(x.dtype)
                counts, sums = onehot.sum(0), onehot.t() @ x
                sum_across_ranks(counts, sums)
                self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
                self.code_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
                n = self.cluster_size.sum()
                smoothed = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
                self.codes.copy_(self.code_sum / smoothed.unsqueeze(1))
        return idx

    def output_codes(self) -> Tensor:
        """``[C, dim]`` centroids mapped back from the normalised space with the
        running statistics (the LargeGT authors' keys and values)."""
        n = self.norm
        return self.codes * torch.sqrt(n.running_var + n.eps) + n.running_mean

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        saved = state_dict.get(prefix + "codes")
        if saved is not None and tuple(saved.shape) != tuple(self.codes.shape):
            raise ValueError(f"the saved codebook holds {saved.shape[0]} codes of dimension "
                             f"{saved.shape[1]}; this one holds {self.num_codes} of dimension "
                             f"{self.dim}: it was trained on other features or settings")
        super()._load_from_state_dict(state_dict, prefix, *args)

    def normalize(self, x: Tensor) -> Tensor:
        """Batch-normalise ``x [n, dim]`` (batch statistics in training, updating the
        running ones; a batch of one point uses the running statistics)."""
        if x.dim() != 2 or x.size(1) != self.dim:
            raise ValueError(f"expected points of shape [n, {self.dim}], got {tuple(x.shape)}")
        n = self.norm
        return F.batch_norm(x, n.running_mean, n.running_var, momentum=n.momentum, eps=n.eps,
                            training=self.training and x.size(0) > 1)

    def forward(self, x: Tensor) -> Tensor:
        """:meth:`normalize` ``x [n, dim]``, :meth:`update` with it and return the
        normalised points (differentiable in ``x``)."""
        x = self.normalize(x)
        self.update(x)
        return x
