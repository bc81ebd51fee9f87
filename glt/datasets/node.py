"""``NodeDataset``: a graph with node features, labels and a split."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import torch
from torch import Tensor

from glt.graph import CSRGraph


@dataclass
class NodeDataset:
    """One node-classification graph.

    Attributes:
        name: dataset name.
        graph: ``CSRGraph [N, N]``.
        x: ``[N, F]`` node features.
        y: ``[N]`` int64 labels.
        train_mask, val_mask, test_mask: ``[N]`` bool split masks.
        num_classes: number of label classes.
    """

    name: str
    graph: CSRGraph
    x: Tensor
    y: Tensor
    train_mask: Tensor
    val_mask: Tensor
    test_mask: Tensor
    num_classes: int

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    def to(self, device: Union[str, torch.device]) -> "NodeDataset":
        """A copy with every tensor (and the graph) on ``device``."""
        return replace(self, graph=self.graph.to(device), x=self.x.to(device),
                       y=self.y.to(device), train_mask=self.train_mask.to(device),
                       val_mask=self.val_mask.to(device), test_mask=self.test_mask.to(device))

    def __repr__(self) -> str:
        return (f"NodeDataset({self.name}: nodes={self.num_nodes}, edges={self.graph.num_edges}, "
                f"features={self.num_features}, classes={self.num_classes}, "
                f"train/val/test={int(self.train_mask.sum())}/{int(self.val_mask.sum())}/"
                f"{int(self.test_mask.sum())})")


def row_normalize(x: Tensor) -> Tensor:
    """Scale each row of ``x [N, F]`` to sum 1 (zero rows stay zero), as
    PyG's ``NormalizeFeatures`` and the GCN/GAT papers do."""
    total = x.sum(dim=-1, keepdim=True)
    return x / total.masked_fill(total == 0, 1.0)
