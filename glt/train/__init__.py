"""Training loops and metrics."""
from glt.train.metrics import accuracy, mean_std
from glt.train.node import RunResult, repeat_runs, seed_everything, train_full_batch

__all__ = ["accuracy", "mean_std", "RunResult", "repeat_runs", "seed_everything",
           "train_full_batch"]
