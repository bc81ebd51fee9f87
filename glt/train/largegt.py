"""Training of LargeGT on batches of target nodes with freshly sampled tokens."""
from __future__ import annotations

import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from glt.datasets.node import NodeDataset
from glt.models.largegt import TokenInputs
from glt.train.distributed import Shard, data_parallel
from glt.train.metrics import accuracy
from glt.train.node import RunResult


@torch.no_grad()
def predict_tokens(model: nn.Module, inputs: TokenInputs, nodes: Tensor,
                   batch_size: int = 1024, seed: int = 0) -> Tensor:
    """Logits ``[len(nodes), C]``, tokens sampled with ``seed``."""
    model.eval()
    return torch.cat([model(*inputs(chunk, seed=seed)) for chunk in nodes.split(batch_size)])


def train_largegt(model: nn.Module, data: NodeDataset, inputs: TokenInputs, batch_size: int,
                  epochs: int, lr: float, weight_decay: float = 0.0, seed: int = 0,
                  eval_batch_size: int = 1024, eval_every: int = 1, progress: bool = False,
                  score: Optional[Callable[[Tensor, Tensor], float]] = None,
                  shard: Shard = Shard()) -> RunResult:
    """Adam on shuffled batches of training nodes, each epoch with new tokens;
    validation / test scored every ``eval_every`` epochs; reports the best
    validation epoch (``score`` defaults to accuracy). With several ranks
    (torchrun, ``shard``) each epoch's shuffled nodes are split across ranks,
    each samples its own tokens, and DistributedDataParallel averages gradients
    (and hands rank 0's buffers, the EMA codebook included, to every rank)."""
    if epochs < 1 or batch_size < 1 or eval_every < 1:
        raise ValueError(f"expected positive epochs, batch_size and eval_every, got {epochs}, "
                         f"{batch_size} and {eval_every}")
    score = score or accuracy
    start = time.perf_counter()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    train_nodes = data.train_mask.nonzero().view(-1).cpu()
    val_nodes = data.val_mask.nonzero().view(-1).cpu()
    test_nodes = data.test_mask.nonzero().view(-1).cpu()
    gen = torch.Generator().manual_seed(seed)  # the same order on every rank
    net = data_parallel(model, shard)
    best_val, best_test, best_epoch, curve = -1.0, 0.0, 0, []
    for epoch in range(1, epochs + 1):
        model.train()
        order = shard.split(train_nodes[torch.randperm(train_nodes.numel(), generator=gen)])
        for i, chunk in enumerate(tqdm(order.split(batch_size), desc=f"epoch {epoch}",
                                       leave=False, disable=not (progress and shard.is_main))):
            optimizer.zero_grad()
            logits = net(*inputs(chunk, seed=shard.seed(seed * 1_000_003 + epoch * 1009 + i)))
            F.cross_entropy(logits, data.y[chunk.to(data.y.device)]).backward()
            optimizer.step()
        if epoch % eval_every and epoch != epochs:
            continue
        logits = predict_tokens(model, inputs, torch.cat([val_nodes, test_nodes]),
                                eval_batch_size, seed)
        y = data.y.cpu()
        val = score(logits[:val_nodes.numel()].cpu(), y[val_nodes])
        curve.append((epoch, val))
        if val > best_val:
            best_val, best_epoch = val, epoch
            best_test = score(logits[val_nodes.numel():].cpu(), y[test_nodes])
    return RunResult(seed, best_val, best_test, best_epoch, epochs, time.perf_counter() - start,
                     curve)
