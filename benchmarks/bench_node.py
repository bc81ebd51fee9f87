"""Full-batch node classification: glt's GCN / GAT / GraphSAGE against the same
stacks built from PyG's layers, one training epoch and one inference pass.

Both sides have the same layout (dropout -> conv -> activation per layer, the
reference GCN and GAT models'), the same weights (the baseline loads glt's
state dict and its eval output is checked against glt's) and the same input:
a Planetoid set, row-normalised features, PyG fed ``edge_index`` as its users
do (GCNConv with ``cached=True``). Prints ``ratio = PyG time / glt time``; on
CPU a second glt row feeds the features as a sparse CSR matrix
(``sparse_features``), as glt's Planetoid scripts do, against the same PyG times.

    python benchmarks/bench_node.py                 # Cora
    python benchmarks/bench_node.py --dataset pubmed --root DIR --device cuda
"""
from __future__ import annotations

import argparse
import platform
import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F
import torch_geometric.nn as pyg
from torch import Tensor, nn

from glt.datasets import PLANETOID_NAMES, load_planetoid, row_normalize, sparse_features
from glt.datasets._download import DownloadError
from glt.models import GAT, GCN, GraphSAGE
from glt.models.gnn import NodeClassifier
from glt.train.args import check_device, check_parsed, count


class PygStack(nn.Module):
    """``F.dropout -> conv -> act`` per layer over PyG convs (the last without act)."""

    def __init__(self, convs: list[nn.Module], dropout: float,
                 activation: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.dropout, self.activation = dropout, activation

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), edge_index)
            if i < len(self.convs) - 1:
                x = self.activation(x)
        return x


def pyg_conv(conv: nn.Module) -> nn.Module:
    """PyG's layer of the kind and sizes of glt's ``conv`` (GCNConv with
    ``cached=True``, as PyG's users run it); its parameters have the same names."""
    name = type(conv).__name__
    if name == "GCNConv":
        return pyg.GCNConv(conv.in_channels, conv.out_channels, cached=True)
    if name == "GATConv":
        return pyg.GATConv(conv.in_channels, conv.out_channels, heads=conv.heads,
                           concat=conv.concat, dropout=conv.dropout)
    return pyg.SAGEConv(conv.in_channels, conv.out_channels, aggr=conv.aggr)


def pyg_twin(model: NodeClassifier) -> PygStack:
    """The PyG stack with ``model``'s layer sizes and weights."""
    twin = PygStack([pyg_conv(conv) for conv in model.convs], model.dropout, model.activation)
    twin.load_state_dict(model.state_dict())
    return twin


def epoch_seconds(model: nn.Module, x: Tensor, graph: object, y: Tensor, mask: Tensor,
                  reps: int) -> tuple[float, float]:
    """(training epoch, inference pass) seconds, medians of ``reps`` after a warm-up."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def train() -> None:
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x, graph)[mask], y[mask]).backward()
        opt.step()

    @torch.no_grad()
    def infer() -> None:
        model.eval()
        model(x, graph)

    def sync() -> None:
        if x.is_cuda:
            torch.cuda.synchronize()

    times = []
    for fn in (train, infer):
        fn()
        runs = []
        for _ in range(reps):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            runs.append(time.perf_counter() - t0)
        times.append(sorted(runs)[len(runs) // 2])
    return times[0], times[1]


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(PLANETOID_NAMES), default="cora")
    parser.add_argument("--root", default=None)
    parser.add_argument("--reps", type=count, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    check_parsed(parser, args, {"device": check_device})
    try:
        data = load_planetoid(args.dataset, args.root).to(args.device)
    except (FileNotFoundError, NotADirectoryError, ValueError, DownloadError) as err:
        parser.error(str(err))
    x = row_normalize(data.x)
    sparse = sparse_features(x) if x.device.type == "cpu" else x
    edge_index = torch.stack([data.graph.row(), data.graph.col])
    where = torch.cuda.get_device_name(args.device) if data.x.is_cuda else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}  {where}  {data}")
    f, c = data.num_features, data.num_classes
    models = {"GCN (16 hidden)": GCN(f, 16, c).to(args.device),
              "GAT (8 heads x 8 hidden)": GAT(f, 8, c, heads=8).to(args.device),
              "GraphSAGE (16 hidden, mean)": GraphSAGE(f, 16, c).to(args.device)}
    print(f"{'model':<28} {'train glt':>10} {'train PyG':>10} {'ratio':>6} "
          f"{'infer glt':>10} {'infer PyG':>10} {'ratio':>6}")
    for name, model in models.items():
        twin = pyg_twin(model).to(args.device)
        with torch.no_grad():
            model.eval()
            twin.eval()
            torch.testing.assert_close(model(x, data.graph), twin(x, edge_index),
                                       rtol=1e-4, atol=1e-5)
        g_train, g_infer = epoch_seconds(model, x, data.graph, data.y, data.train_mask,
                                         args.reps)
        p_train, p_infer = epoch_seconds(twin, x, edge_index, data.y, data.train_mask,
                                         args.reps)
        rows = [(name, g_train, g_infer)]
        if sparse is not x:  # glt as its Planetoid scripts run it: sparse input features
            rows.append(("  glt, sparse features", *epoch_seconds(
                model, sparse, data.graph, data.y, data.train_mask, args.reps)))
        for label, g_train, g_infer in rows:
            print(f"{label:<28} {g_train * 1e3:>8.1f}ms {p_train * 1e3:>8.1f}ms "
                  f"{p_train / g_train:>5.1f}x {g_infer * 1e3:>8.1f}ms {p_infer * 1e3:>8.1f}ms "
                  f"{p_infer / g_infer:>5.1f}x")


if __name__ == "__main__":
    main()
