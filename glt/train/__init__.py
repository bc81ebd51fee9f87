"""Training loops and metrics."""
from glt.train.metrics import accuracy, mean_std
from glt.train.node import (NodeTrainConfig, repeat_runs, seed_everything, train_full_batch,
                            train_nodes)
from glt.train.selection import RunResult, Selection
from glt.train.sources import FullGraph, Neighbourhoods, TokenBatches

__all__ = ["accuracy", "mean_std", "FullGraph", "Neighbourhoods", "NodeTrainConfig",
           "RunResult", "Selection", "TokenBatches", "repeat_runs", "seed_everything",
           "train_full_batch", "train_nodes"]
