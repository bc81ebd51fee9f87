"""``NodeDataset``: a graph with node features, labels and a split."""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from torch import Tensor

from glt._checks import as_index, as_int
from glt.datasets._fields import check_graph_and_features
from glt.datasets.registry import DatasetInfo
from glt.graph import CSRGraph

if TYPE_CHECKING:
    from torch_geometric.data import Data


@dataclass
class NodeDataset:
    """One node-classification graph.

    Attributes:
        name: dataset name.
        graph: ``CSRGraph [N, N]``.
        x: ``[N, F]`` node features (``None`` for a set without any, e.g. ogbn-proteins),
            dense or a sparse CSR matrix (:func:`sparse_features`).
        y: ``[N]`` int64 labels (``-1`` where unlabelled), or ``[N, T]`` for T binary tasks.
        train_mask, val_mask, test_mask: ``[N]`` bool split masks.
        num_classes: number of label classes.
        info: the registry entry, when the set is registered.
        node_attr: further per-node arrays (``node_year`` ``[N]``, ...).
        edge_attr: ``[E, D]`` edge features in the graph's CSR order, or ``None``.
    """

    name: str
    graph: CSRGraph
    x: Optional[Tensor]
    y: Tensor
    train_mask: Tensor
    val_mask: Tensor
    test_mask: Tensor
    num_classes: int
    info: Optional[DatasetInfo] = None
    node_attr: dict[str, Tensor] = field(default_factory=dict)
    edge_attr: Optional[Tensor] = None

    def __post_init__(self) -> None:
        """Check shapes, dtypes, label range and split before any model sees them."""
        n = check_graph_and_features(self.name, self.graph, self.x, self.edge_attr)
        as_int(self.num_classes, "num_classes", minimum=1)
        if self.y.size(0) != n or self.y.dim() not in (1, 2):
            raise ValueError(f"{self.name}: expected y of shape [{n}] (or [{n}, tasks]), got "
                             f"{tuple(self.y.shape)}")
        if self.y.dim() == 1 and (self.y.is_floating_point() or self.y.is_complex()):
            raise ValueError(f"{self.name}: expected y to hold integer class ids, got "
                             f"{self.y.dtype}")
        for split in ("train", "val", "test"):
            mask = getattr(self, f"{split}_mask")
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (n,):
                what = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, Tensor) else \
                    type(mask).__name__
                raise ValueError(f"{self.name}: expected {split}_mask to be a bool [{n}] mask, "
                                 f"got {what} (node ids, such as OGB's get_idx_split, become "
                                 f"a mask with torch.zeros({n}, dtype=torch.bool)"
                                 f".index_fill_(0, ids, True))")
        if self.y.dim() == 1 and n:
            low, high = (int(v) for v in torch.aminmax(self.y))
            if low < -1 or high >= self.num_classes:
                raise ValueError(f"{self.name}: expected labels in [0, {self.num_classes}) "
                                 f"(-1: unlabelled), got {low if low < -1 else high}")
            unlabelled = int((self.y[self.train_mask] < 0).sum())
            if unlabelled:
                raise ValueError(f"{self.name}: {unlabelled} training nodes have no label (-1)")
        shared = int((self.train_mask & (self.val_mask | self.test_mask)).sum())
        if shared:
            warnings.warn(f"{self.name}: {shared} training nodes are also validation or test "
                          f"nodes", stacklevel=3)

    @classmethod
    def from_pyg(cls, data: "Data", name: str = "pyg", num_classes: Optional[int] = None,
                 split_idx: Optional[dict[str, Tensor]] = None, split: Optional[int] = None
                 ) -> "NodeDataset":
        """From a ``torch_geometric.data.Data``: ``edge_index`` (and ``edge_weight``)
        or ``T.ToSparseTensor``'s ``adj_t``,
        ``x``, ``y`` (``[N]``, or OGB's ``[N, 1]``) and the split, taken from
        ``split_idx`` (node ids, OGB's ``get_idx_split()``) when given, else from
        ``train_mask`` / ``val_mask`` / ``test_mask``; masks of several splits
        (``[N, S]``, as PyG's WikiCS) need ``split``, the column to use.
        ``num_classes`` defaults to the largest label + 1."""
        n = data.num_nodes
        if getattr(data, "y", None) is None:
            raise ValueError(f"{name}: the Data has no y (labels)")
        y = data.y.reshape(-1) if data.y.dim() == 2 and data.y.size(1) == 1 else data.y
        if split_idx is not None:
            masks = []
            for key in ("train", "valid", "test"):
                ids = as_index(split_idx[key], f"split_idx[{key!r}]", bound=n)
                masks.append(torch.zeros(n, dtype=torch.bool).index_fill_(0, ids, True))
        else:
            masks = [getattr(data, f"{k}_mask", None) for k in ("train", "val", "test")]
            missing = [f"{k}_mask" for k, m in zip(("train", "val", "test"), masks) if m is None]
            if missing:
                raise ValueError(f"{name}: the Data has no {', '.join(missing)}; pass split_idx")
            several = [m.size(1) for m in masks if m.dim() == 2]
            if several and (split is None or not 0 <= split < min(several)):
                raise ValueError(f"{name}: the Data's masks hold {min(several)} splits (one "
                                 f"per column); expected split in [0, {min(several)}), got "
                                 f"{split}")
            masks = [m[:, split] if m.dim() == 2 else m for m in masks]
        if num_classes is None:
            num_classes = int(y.max()) + 1 if y.numel() else 1
        return cls(name, CSRGraph.from_pyg(data), data.x, y, *masks, num_classes)

    def to_pyg(self) -> "Data":
        """To a ``torch_geometric.data.Data``, as PyG's own loaders give a set:
        ``edge_index`` in the graph's CSR order (with ``edge_weight`` and
        ``edge_attr`` where the set has them), dense ``x`` (sparse features
        densified), ``y``, the three masks, ``num_nodes`` and each :attr:`node_attr`
        entry. :meth:`from_pyg` reads it back."""
        if not self.graph.is_square:
            raise ValueError(f"{self.name}: expected a square graph, got {self.graph.shape}")
        x = self.x.to_dense() if self.x is not None and self.x.layout != torch.strided \
            else self.x
        data = self.graph.to_pyg(x=x, y=self.y, train_mask=self.train_mask,
                                 val_mask=self.val_mask, test_mask=self.test_mask,
                                 **self.node_attr)
        if self.edge_attr is not None:
            data.edge_attr = self.edge_attr
        return data

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_outputs(self) -> int:
        """Logits a model gives per node: one per class, or one per binary task
        when ``y`` is ``[N, T]`` (ogbn-proteins' 112)."""
        return self.y.size(1) if self.y.dim() == 2 else self.num_classes

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else self.x.size(1)

    def split_idx(self) -> dict[str, Tensor]:
        """``{"train", "valid", "test"}`` node ids, as OGB's ``get_idx_split()``."""
        return {k: m.nonzero().view(-1) for k, m in
                (("train", self.train_mask), ("valid", self.val_mask), ("test", self.test_mask))}

    def evaluator(self) -> Any:
        """The official ``ogb.nodeproppred.Evaluator`` of an OGB set."""
        if self.info is None or self.info.source != "ogb":
            raise ValueError(f"{self.name} has no official evaluator (only OGB sets do)")
        from ogb.nodeproppred import Evaluator
        return Evaluator(self.info.name)

    def to(self, device: Union[str, torch.device]) -> "NodeDataset":
        """A copy with every tensor (and the graph) on ``device``; not checked
        again (a move changes no value, and the features' finiteness check reads
        all of them)."""
        def move(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.to(device)
        moved = copy.copy(self)
        moved.graph, moved.x, moved.y = self.graph.to(device), move(self.x), self.y.to(device)
        moved.train_mask, moved.val_mask, moved.test_mask = (
            m.to(device) for m in (self.train_mask, self.val_mask, self.test_mask))
        moved.edge_attr = move(self.edge_attr)
        moved.node_attr = {k: v.to(device) for k, v in self.node_attr.items()}
        return moved

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


def sparse_features(x: Tensor, max_density: float = 0.1) -> Tensor:
    """``x [N, F]`` as a sparse CSR matrix when at most ``max_density`` of its
    entries are nonzero (bag-of-words features), else ``x``.

    glt's layers project sparse features with a sparse-dense product and
    :func:`glt.ops.dropout` drops only their stored values, with the mask the
    dense matrix would get, so training follows the same draws in time
    proportional to the nonzeros.
    """
    if x.dim() != 2 or not x.is_floating_point() or x.layout != torch.strided:
        raise ValueError(f"expected dense float features [N, F], got {x.layout} {x.dtype} "
                         f"of shape {tuple(x.shape)}")
    if x.numel() == 0 or int(torch.count_nonzero(x)) > max_density * x.numel():
        return x
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return x.to_sparse_csr()
