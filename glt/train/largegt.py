"""Training of LargeGT on batches of target nodes with freshly sampled tokens."""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.node import NodeDataset
from glt.models.largegt import TokenInputs
from glt.train.checkpoint import data_fingerprint, load_checkpoint, run_identity, save_checkpoint
from glt.train.distributed import Shard, data_parallel
from glt.train.metrics import accuracy
from glt.train.node import RunResult, Selection


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device`` (CPU or CUDA) when ``enabled``: no loss
    scaling needed, unlike float16."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


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


_OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


def _identity(model: nn.Module, data: NodeDataset, settings: dict[str, Any],
              inputs: TokenInputs) -> dict[str, Any]:
    """The model, the graph, features, labels and split, and every setting that
    changes the computation."""
    extra = () if inputs.pos is None else (inputs.pos,)
    fingerprint = data_fingerprint(data.graph.rowptr, data.graph.col, inputs.x, data.y,
                                   data.train_mask, data.val_mask, data.test_mask, *extra)
    return run_identity(model, fingerprint, settings)


def train_largegt(model: nn.Module, data: NodeDataset, inputs: TokenInputs, batch_size: int,
                  epochs: int, lr: float, weight_decay: float = 0.0, seed: int = 0,
                  eval_batch_size: int = 1024, eval_every: int = 1, progress: bool = False,
                  score: Optional[Callable[[Tensor, Tensor], float]] = None,
                  shard: Shard = Shard(), checkpoint: Optional[str] = None,
                  amp: bool = False, optimizer: str = "adamw",
                  eval_samples: int = 1, settings: Optional[dict[str, Any]] = None
                  ) -> RunResult:
    """AdamW (or Adam) on shuffled batches of training nodes, each epoch with new tokens;
    validation / test scored every ``eval_every`` epochs; reports the best
    validation epoch (``score`` defaults to accuracy). With several ranks
    (torchrun, ``shard``) each epoch's shuffled nodes are split across ranks,
    each samples its own tokens, and DistributedDataParallel averages gradients
    (and hands rank 0's buffers, the EMA codebook included, to every rank).

    ``checkpoint``: a folder; the run writes ``seed<seed>.pt`` there after every
    epoch (rank 0) and, started again, resumes from it exactly (same batches,
    tokens and dropout) or, when it had finished, returns its result at once.
    ``amp``: bfloat16 autocast for the forward passes.
    ``optimizer``: ``"adamw"`` (decoupled weight decay, the authors') or
    ``"adam"`` (``weight_decay`` as an L2 term in the gradient, the usual
    Planetoid setting of GCN and GAT).
    ``eval_samples``: token draws averaged per evaluation (see
    :func:`predict_tokens`).
    ``settings``: the model's hyperparameters, which join the training settings
    in the checkpoint's identity.
    """
    if min(epochs, batch_size, eval_every, eval_samples) < 1:
        raise ValueError(f"expected positive epochs, batch_size, eval_every and eval_samples, "
                         f"got {epochs}, {batch_size}, {eval_every} and {eval_samples}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"expected optimizer in {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    score = score or accuracy
    device = data.y.device
    identity = _identity(model, data, {**(settings or {}), "seed": seed, "batch_size": batch_size,
                                       "lr": lr, "weight_decay": weight_decay, "amp": amp,
                                       "optimizer": optimizer, "eval_samples": eval_samples},
                         inputs) if checkpoint else {}
    opt = _OPTIMIZERS[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
    train_nodes = data.train_mask.nonzero().view(-1).cpu()
    val_nodes = data.val_mask.nonzero().view(-1).cpu()
    test_nodes = data.test_mask.nonzero().view(-1).cpu()
    gen = torch.Generator().manual_seed(seed)  # the same order on every rank
    state: dict[str, Any] = {"epoch": 0, "seconds": 0.0, "best": asdict(Selection())}
    path = os.path.join(checkpoint, f"seed{seed}.pt") if checkpoint else None
    if path and os.path.exists(path):
        state = load_checkpoint(path, identity, model, opt, gen)
    best = Selection(**state["best"])
    net = data_parallel(model, shard)
    while state["epoch"] < epochs:
        start = time.perf_counter()
        epoch = state["epoch"] = state["epoch"] + 1
        model.train()
        order = shard.split(train_nodes[torch.randperm(train_nodes.numel(), generator=gen)])
        for i, chunk in enumerate(tqdm(order.split(batch_size), desc=f"epoch {epoch}",
                                       leave=False, disable=not (progress and shard.is_main))):
            opt.zero_grad()
            with autocast(device, amp):
                logits = net(*inputs(chunk, seed=shard.seed(seed * 1_000_003 + epoch * 1009 + i)))
            F.cross_entropy(logits.float(), data.y[chunk.to(device)]).backward()
            opt.step()
        if epoch % eval_every == 0 or epoch == epochs:
            logits = predict_tokens(model, inputs, torch.cat([val_nodes, test_nodes]),
                                    eval_batch_size, seed, amp, eval_samples).cpu()
            y = data.y.cpu()
            best.update(epoch, logits, y[val_nodes], y[test_nodes], score)
        state["seconds"] += time.perf_counter() - start
        state["best"] = asdict(best)
        if path and shard.is_main:
            save_checkpoint(path, identity, model, opt, gen, state)
    return best.result(seed, state["epoch"], state["seconds"])
