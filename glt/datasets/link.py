"""``LinkDataset``: a graph with edge splits for link prediction."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Union

import torch
from torch import Tensor

from glt._checks import as_index
from glt.datasets._fields import check_graph_and_features
from glt.datasets.registry import DatasetInfo
from glt.graph import CSRGraph


@dataclass
class LinkDataset:
    """One link-prediction graph (OGB's ``ogbl-*`` layout).

    Attributes:
        name: dataset name.
        graph: ``CSRGraph [N, N]`` of the training edges (both directions where OGB adds them).
        x: ``[N, F]`` node features, or ``None``.
        split: ``{"train" | "valid" | "test": {"edge": [M, 2], "edge_neg": [M', 2],
            "weight": [M], "year": [M], ...}}``, as OGB's ``get_edge_split()``.
        info: the registry entry.
        edge_attr: ``[E, D]`` edge features in CSR order, or ``None``.
        edge_data: further per-edge arrays in CSR order (``edge_weight``, ``edge_year``).
    """

    name: str
    graph: CSRGraph
    x: Optional[Tensor]
    split: dict[str, dict[str, Tensor]]
    info: Optional[DatasetInfo] = None
    edge_attr: Optional[Tensor] = None
    edge_data: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the graph, features and every split's node pairs (``edge``,
        ``edge_neg``: ``[M, 2]`` ids of the graph's nodes)."""
        n = check_graph_and_features(self.name, self.graph, self.x, self.edge_attr)
        if "edge" not in self.split.get("train", {}):
            raise ValueError(f"{self.name}: expected split['train']['edge'], the training pairs")
        for part, arrays in self.split.items():
            for key in ("edge", "edge_neg"):
                pairs = arrays.get(key)
                if pairs is None:
                    continue
                name = f"split[{part!r}][{key!r}]"
                if pairs.dim() != 2 or pairs.size(1) != 2:
                    hint = (" (an edge_index [2, M]: OGB's layout is its .t())"
                            if pairs.dim() == 2 and pairs.size(0) == 2 else "")
                    raise ValueError(f"{self.name}: expected {name} of shape [M, 2], got "
                                     f"{tuple(pairs.shape)}{hint}")
                as_index(pairs.reshape(-1), f"{self.name} {name}", bound=n)

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    def to(self, device: Union[str, torch.device]) -> "LinkDataset":
        """A copy on ``device`` (``self`` when already there)."""
        device = torch.device(device)
        if device == self.graph.device:
            return self
        return replace(self, graph=self.graph.to(device),
                       x=None if self.x is None else self.x.to(device),
                       split={s: {k: v.to(device) for k, v in part.items()}
                              for s, part in self.split.items()},
                       edge_attr=None if self.edge_attr is None else self.edge_attr.to(device),
                       edge_data={k: v.to(device) for k, v in self.edge_data.items()})

    def evaluator(self) -> Any:
        """The official ``ogb.linkproppred.Evaluator`` of an OGB set."""
        if self.info is None or self.info.source != "ogb":
            raise ValueError(f"{self.name} has no official evaluator (only OGB sets do)")
        from ogb.linkproppred import Evaluator
        return Evaluator(self.info.name)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v['edge'].size(0)}" for k, v in self.split.items())
        return (f"LinkDataset({self.name}: nodes={self.num_nodes}, "
                f"edges={self.graph.num_edges}, split edges: {sizes})")
