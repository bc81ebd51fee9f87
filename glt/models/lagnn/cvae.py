"""The conditional VAE of local augmentation (Liu et al., ICML 2022,
https://arxiv.org/abs/2109.03856): it learns the distribution of a neighbour's
features given the centre node's, from one (neighbour, centre) pair per edge."""
from __future__ import annotations

import math
import os
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt._checks import check_features
from glt._unpickle import load_weights
from glt.graph import CSRGraph


def neighbour_pairs(graph: CSRGraph) -> tuple[Tensor, Tensor]:
    """``(neighbour [E], centre [E])`` ids: one pair per edge ``centre -> neighbour``
    of ``graph`` (a node's row lists its neighbours; self-loops left out)."""
    centre, neighbour = graph.row(), graph.col
    keep = centre != neighbour
    return neighbour[keep], centre[keep]


def binary_cross_entropy_sum(p: Tensor, target: Tensor) -> Tensor:
    """``sum(-(target log p + (1 - target) log(1 - p)))`` over ``p, target [n, F]``:
    torch's ``binary_cross_entropy`` where every target is in ``[0, 1]`` (binary
    bag-of-words features), else its linear extension in the target, which torch
    computed before 2.1 refused such targets: PubMed's TF-IDF features reach 1.26,
    and the LA-GNN code (torch 1.x) fed them to the loss as they are."""
    finite, in_range = torch.stack([torch.isfinite(p).all(),  # one host sync for both
                                    ((target >= 0) & (target <= 1)).all()]).tolist()
    if not finite:
        return p.sum()  # NaN, as the formula gives (torch's loss raises instead)
    if in_range:
        return F.binary_cross_entropy(p, target, reduction="sum")
    one = F.binary_cross_entropy(p, torch.ones_like(p), reduction="none")
    zero = F.binary_cross_entropy(p, torch.zeros_like(p), reduction="none")
    return (target * one + (1 - target) * zero).sum()


class CVAE(nn.Module):
    """Encoder ``[x_neighbour, x_centre] -> hidden -> (mu, logvar)``, decoder
    ``[z, x_centre] -> hidden -> F``.

    Args:
        num_features: ``F``.
        hidden: width of the encoder's and decoder's hidden layer (256 in the paper).
        latent: size of ``z`` (10 in the paper).
        variant: ``"planetoid"`` (sigmoid output, BCE + KL; features in [0, 1])
            or ``"ogb"`` (a batch norm after every linear layer of the encoder's
            MLP and the decoder, tanh output, MSE + KL; the LA-GNN code's OGB model).
            Its generations normalise with the statistics that
            :meth:`set_generation_statistics` sets.
    """

    def __init__(self, num_features: int, hidden: int = 256, latent: int = 10,
                 variant: str = "planetoid") -> None:
        super().__init__()
        if variant not in ("planetoid", "ogb"):
            raise ValueError(f"expected variant 'planetoid' or 'ogb', got {variant!r}")
        self.num_features, self.latent, self.variant = num_features, latent, variant
        self.hidden = hidden

        def block(n_in: int) -> nn.Sequential:
            norm = [nn.BatchNorm1d(hidden)] if variant == "ogb" else []
            return nn.Sequential(nn.Linear(n_in, hidden), *norm, nn.ReLU())
        self.encoder = block(2 * num_features)
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        out_norm = [nn.BatchNorm1d(num_features)] if variant == "ogb" else []
        self.decoder = nn.Sequential(block(latent + num_features),
                                     nn.Linear(hidden, num_features), *out_norm)

    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(torch.cat([x, c], dim=-1))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        """``[n, F]`` features generated from ``z [n, latent]`` given conditions ``c [n, F]``."""
        out = self.decoder(torch.cat([z, c], dim=-1))
        return torch.sigmoid(out) if self.variant == "planetoid" else torch.tanh(out)

    def forward(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(reconstruction, mu, logvar)`` of neighbours ``x [n, F]`` given
        centres ``c [n, F]``."""
        mu, logvar = self.encode(x, c)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode(z, c), mu, logvar

    def loss(self, x: Tensor, c: Tensor) -> Tensor:
        """(reconstruction + KL) summed over the batch, divided by its size, as the paper's code."""
        recon, mu, logvar = self(x, c)
        if self.variant == "planetoid":
            rec = binary_cross_entropy_sum(recon, x)
        else:
            rec = F.mse_loss(recon, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + kl) / x.size(0)

    @torch.no_grad()
    def generate(self, x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        """One generated neighbour feature per node, ``[N, F]``: ``z ~ N(0, I)``
        decoded with the node's own features ``x [N, F]`` as condition (so a node
        without neighbours gets one too)."""
        return self.sampler(x)(generator)

    @torch.no_grad()
    def sampler(self, x: Tensor) -> Callable[[Optional[torch.Generator]], Tensor]:
        """A function drawing generated features ``[N, F]`` for conditions ``x``,
        as :meth:`generate`, with ``x``'s share of the decoder's first layer
        computed once (the part that does not depend on ``z``)."""
        check_features(x, "x")
        if x.size(1) != self.num_features:
            raise ValueError(f"this generator was trained on {self.num_features} features; "
                             f"got x with {x.size(1)}")
        first = self.decoder[0][0]
        w_z, w_c = first.weight[:, :self.latent], first.weight[:, self.latent:]
        c_part = F.linear(x, w_c, first.bias)  # [N, hidden]
        rest = self.decoder[0][1:]

        @torch.no_grad()
        def draw(generator: Optional[torch.Generator] = None) -> Tensor:
            z = torch.randn(x.size(0), self.latent, generator=generator, device=x.device)
            was_training = self.training
            self.eval()
            out = self.decoder[1:](rest(c_part + z @ w_z.t()))
            self.train(was_training)
            return torch.sigmoid(out) if self.variant == "planetoid" else torch.tanh(out)
        return draw

    @torch.no_grad()
    def set_generation_statistics(self, x: Tensor,
                                  generator: Optional[torch.Generator] = None) -> None:
        """OGB variant: let the decoder's batch norms normalise generations with the
        statistics of decoding every condition of ``x [N, F]`` at once (``z ~ N(0,
        I)``), instead of the running statistics of the training pairs.

        The LA-GNN code generates with its OGB generator in training mode, every
        node in one batch, so each batch norm uses the statistics of that batch;
        with these statistics set, generating any subset of the nodes (a
        mini-batch) gives the rows of that whole-graph generation.
        """
        if self.variant != "ogb":
            raise ValueError(f"only the 'ogb' variant has batch norms; this is {self.variant!r}")
        check_features(x, "x")
        z = torch.randn(x.size(0), self.latent, generator=generator, device=x.device)
        h = torch.cat([z, x], dim=-1)
        was_training = self.training
        self.eval()
        for layer in [*self.decoder[0], *self.decoder[1:]]:
            if isinstance(layer, nn.BatchNorm1d):
                layer.running_mean.copy_(h.mean(0))
                layer.running_var.copy_(h.var(0, unbiased=False))  # as in training mode
            h = layer(h)
        self.train(was_training)

    def save(self, path: str) -> None:
        """Write the weights and sizes (atomically) for :meth:`load`."""
        tmp = path + ".tmp"
        torch.save({"config": {"num_features": self.num_features, "hidden": self.hidden,
                               "latent": self.latent, "variant": self.variant},
                    "state": self.state_dict()}, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, map_location: str = "cpu") -> "CVAE":
        if not os.path.exists(path):
            raise FileNotFoundError(f"no saved generator at {path}")
        saved = load_weights(path, "generator file", map_location)
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict) or \
                "state" not in saved:
            raise ValueError(f"{path} is not a generator saved by glt (CVAE.save writes a "
                             "dict of 'config' and 'state')")
        try:
            model = cls(**saved["config"])
        except TypeError as err:
            raise ValueError(f"the generator in {path} has settings glt's CVAE does not "
                             f"take: {err}") from err
        try:
            model.load_state_dict(saved["state"])
        except RuntimeError as err:
            raise ValueError(f"the generator in {path} does not fit glt's "
                             f"{saved['config']['variant']!r} CVAE layout (saved by an older "
                             f"glt?): {err}") from err
        return model


def train_cvae(model: CVAE, x: Tensor, graph: CSRGraph, epochs: int = 10, batch_size: int = 64,
               lr: float = 0.01, generator: Optional[torch.Generator] = None,
               after_step: Optional[Callable[[int], None]] = None,
               max_steps: Optional[int] = None, progress: bool = False) -> list[float]:
    """Fit ``model`` on the (neighbour, centre) feature pairs of every edge of
    ``graph``, in shuffled batches; returns the mean loss of each epoch (of its
    batches run). ``after_step(t)`` is called after the ``t``-th optimiser step
    (1-based), e.g. to select a generator; training stops after ``max_steps``
    steps if given (the LA-GNN code's OGB generators: 20 or 10,000 steps).
    ``progress``: a progress bar over the steps."""
    check_features(x, "x", rows=graph.num_nodes)
    if not torch.isfinite(x).all():
        raise ValueError("expected finite node features, got NaN or inf")
    if x.size(1) != model.num_features:
        raise ValueError(f"the generator expects {model.num_features} features, x has {x.size(1)}")
    neighbour, centre = neighbour_pairs(graph)
    if neighbour.numel() == 0:
        raise ValueError("the graph has no edges between distinct nodes: no pairs to learn from")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"expected max_steps >= 1, got {max_steps}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history, step = [], 0
    planned = epochs * math.ceil(neighbour.numel() / batch_size)
    bar = tqdm(total=min(planned, max_steps or planned), desc="generator", unit="step",
               leave=False, disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(neighbour.numel(), generator=generator, device=x.device)
        total, seen = 0.0, 0
        for idx in order.split(batch_size):
            loss = model.loss(x[neighbour[idx]], x[centre[idx]])
            value = float(loss.detach())
            if not math.isfinite(value):  # before the step: the weights stay numbers
                raise FloatingPointError(f"the generator's training diverged: its loss at step "
                                         f"{step + 1} is {value}; a lower learning rate "
                                         f"(--cvae-lr) may help")
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + value * idx.numel(), seen + idx.numel()
            step += 1
            if after_step is not None:
                after_step(step)
            bar.update()
            if step == max_steps:
                bar.close()
                return history + [total / seen]
        history.append(total / seen)
    bar.close()
    return history
