"""``LinkDataset``: a graph with edge splits for link prediction."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

import torch
from torch import Tensor

from glt._checks import as_index
from glt.datasets._fields import check_graph_and_features
from glt.datasets.registry import DatasetInfo
from glt.graph import CSRGraph

if TYPE_CHECKING:
    from torch_geometric.data import Data


SHAPES: dict[str, tuple[int, Optional[int]]] = {
    "edge": (2, 2), "edge_neg": (2, 2), "source_node": (1, None), "target_node": (1, None),
    "target_node_neg": (2, None)}
"""The node-id arrays of a split: their dimensions and, where fixed, their width."""


def has_positives(arrays: Mapping[str, Any]) -> bool:
    """Whether a split part holds positive pairs: ``edge``, or ``source_node``
    and ``target_node``."""
    return "edge" in arrays or {"source_node", "target_node"} <= arrays.keys()


def check_split_shapes(arrays: Mapping[str, Any], label: str) -> None:
    """Refuse a split part whose node-id arrays (tensors or NumPy arrays) have
    other shapes than :data:`SHAPES`, or other than one target row per source;
    ``label`` names the part (``"ogbl-x split['valid']"``, a file)."""
    for key, value in arrays.items():
        if key not in SHAPES:
            continue
        name = f"{label}[{key!r}]"
        dims, width = SHAPES[key]
        if value.ndim != dims or (width is not None and value.shape[1] != width):
            hint = (" (an edge_index [2, M]: OGB's layout is its .t())"
                    if width == 2 and value.ndim == 2 and value.shape[0] == 2 else "")
            shape = "[M, 2]" if width == 2 else "[M]" if dims == 1 else "[M, K]"
            raise ValueError(f"expected {name} of shape {shape}, got "
                             f"{tuple(value.shape)}{hint}")
        if key == "target_node_neg" and value.shape[1] == 0:
            raise ValueError(f"{name} holds no negative targets (shape {tuple(value.shape)}); "
                             "each source is ranked among K >= 1")
    sources = arrays.get("source_node")  # its shape checked above, whatever the keys' order
    for key in ("target_node", "target_node_neg"):
        value = arrays.get(key)
        if value is not None and (sources is None or value.shape[0] != sources.shape[0]):
            got = "none" if sources is None else sources.shape[0]
            raise ValueError(f"{label}[{key!r}] has {value.shape[0]} rows and "
                             f"{label}['source_node'] {got}; expected one per source")


@dataclass
class LinkDataset:
    """One link-prediction graph (OGB's ``ogbl-*`` layout).

    Attributes:
        name: dataset name.
        graph: ``CSRGraph [N, N]`` of the training edges (both directions where OGB adds them).
        x: ``[N, F]`` node features, or ``None``.
        split: ``{"train" | "valid" | "test": {...}}`` as OGB's ``get_edge_split()``:
            node pairs ``{"edge": [M, 2], "edge_neg": [M', 2], "weight": [M], ...}``, or
            ogbl-citation2's ``{"source_node": [M], "target_node": [M],
            "target_node_neg": [M, K]}`` (``K`` negative targets for each source).
        info: the registry entry.
        edge_attr: ``[E, D]`` edge features in CSR order, or ``None``.
        edge_data: further per-edge arrays in CSR order (``edge_weight``, ``edge_year``).
        node_attr: further per-node arrays (ogbl-citation2's ``node_year`` ``[N]``).
    """

    name: str
    graph: CSRGraph
    x: Optional[Tensor]
    split: dict[str, dict[str, Tensor]]
    info: Optional[DatasetInfo] = None
    edge_attr: Optional[Tensor] = None
    edge_data: dict[str, Tensor] = field(default_factory=dict)
    node_attr: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the graph, features and every split's node ids: pairs (``edge``,
        ``edge_neg``: ``[M, 2]``) or sources and targets (``source_node``,
        ``target_node``: ``[M]``; ``target_node_neg``: ``[M, K]``)."""
        n = check_graph_and_features(self.name, self.graph, self.x, self.edge_attr)
        for key, value in self.node_attr.items():
            if value.dim() == 0 or value.size(0) != n:
                raise ValueError(f"{self.name}: node_attr[{key!r}] has shape "
                                 f"{tuple(value.shape)}, expected {n} rows (one per node)")
        train = self.split.get("train", {})
        if not has_positives(train):
            raise ValueError(f"{self.name}: expected split['train']['edge'] (or 'source_node' "
                             "and 'target_node'), the training pairs")
        for part, arrays in self.split.items():
            check_split_shapes(arrays, f"{self.name} split[{part!r}]")
            for key in SHAPES.keys() & arrays.keys():
                as_index(arrays[key].reshape(-1), f"{self.name} split[{part!r}][{key!r}]",
                         bound=n)

    def positives(self, part: str) -> Tensor:
        """``[M, 2]`` the positive pairs of split ``part``: its ``edge``, or its
        ``source_node`` beside its ``target_node``."""
        arrays = self.split.get(part, {})
        if "edge" in arrays:
            return arrays["edge"]
        if not has_positives(arrays):
            raise ValueError(f"{self.name}: its {part} split has no positive pairs ('edge', "
                             "or 'source_node' and 'target_node')")
        return torch.stack([arrays["source_node"], arrays["target_node"]], dim=1)

    @classmethod
    def from_pyg(cls, data: "Data", split_edge: dict[str, dict[str, Any]],
                 name: str = "pyg") -> "LinkDataset":
        """From what OGB's PyG loader gives, ``dataset[0]`` and
        ``dataset.get_edge_split()``: the training graph's ``edge_index`` (or
        ``T.ToSparseTensor``'s ``adj_t``), ``x``, ``edge_attr`` and the other
        per-edge arrays (ogbl-collab's ``edge_weight`` / ``edge_year``: kept in
        :attr:`edge_data`, as :func:`~glt.datasets.load_ogb` keeps them); the
        split's arrays (tensors or NumPy) as they are. Per-edge arrays follow their
        edges into CSR order, from the ``edge_index`` order or, after
        ``T.ToSparseTensor``, from the ``adj_t`` order it put them in. Further
        per-node arrays (ogbl-citation2's ``node_year``) go to :attr:`node_attr`,
        ``[N, 1]`` as ``[N]``."""
        # an edge_index unweighted: collab's edge_weight is kept in edge_data, as
        # load_ogb keeps it, not made the graph's weights as CSRGraph.from_pyg would
        graph = CSRGraph.from_pyg(data) if getattr(data, "edge_index", None) is None \
            else CSRGraph.from_edge_index(data.edge_index, data.num_nodes)
        per_edge = {k: data[k] for k in data.keys() if k not in ("edge_index", "adj_t")
                    and isinstance(data[k], Tensor) and data.is_edge_attr(k)}
        per_edge = {k: v[graph.edge_id] for k, v in per_edge.items()}
        per_node = {k: data[k] for k in data.keys() if k not in ("x", "edge_index", "adj_t")
                    and k not in per_edge and isinstance(data[k], Tensor)
                    and data.is_node_attr(k)}  # adj_t: PyG 2.6 fails to size it
        per_node = {k: v.view(-1) if v.dim() == 2 and v.size(1) == 1 else v
                    for k, v in per_node.items()}
        split = {part: {k: torch.as_tensor(v) for k, v in arrays.items()}
                 for part, arrays in split_edge.items()}
        return cls(name, graph, getattr(data, "x", None), split,
                   edge_attr=per_edge.pop("edge_attr", None), edge_data=per_edge,
                   node_attr=per_node)

    def to_pyg(self) -> tuple["Data", dict[str, dict[str, Tensor]]]:
        """``(data, split_edge)`` as OGB's PyG loader gives them: a
        ``torch_geometric.data.Data`` of the training graph (``edge_index`` in CSR
        order, ``num_nodes``, ``x``, ``edge_attr``, :attr:`edge_data` and
        :attr:`node_attr` where the set has them, each of the shape OGB's loader
        gives it: ``node_year [N, 1]``) and the split. :meth:`from_pyg` reads them
        back."""
        per_node = {k: v.view(-1, 1) if v.dim() == 1 else v  # [N, 1], as OGB's loader holds it
                    for k, v in self.node_attr.items()}
        data = self.graph.with_edge_weight(None).to_pyg(**self.edge_data, **per_node)
        for key, value in (("x", self.x), ("edge_attr", self.edge_attr)):
            if value is not None:
                data[key] = value
        return data, {part: dict(arrays) for part, arrays in self.split.items()}

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
                       edge_data={k: v.to(device) for k, v in self.edge_data.items()},
                       node_attr={k: v.to(device) for k, v in self.node_attr.items()})

    def evaluator(self) -> Any:
        """The official ``ogb.linkproppred.Evaluator`` of an OGB set."""
        if self.info is None or self.info.source != "ogb":
            raise ValueError(f"{self.name} has no official evaluator (only OGB sets do)")
        from ogb.linkproppred import Evaluator
        return Evaluator(self.info.name)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={self.positives(k).size(0)}" for k, v in self.split.items()
                          if has_positives(v))
        return (f"LinkDataset({self.name}: nodes={self.num_nodes}, "
                f"edges={self.graph.num_edges}, split edges: {sizes})")
