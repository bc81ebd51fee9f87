"""Local augmentation's cost: CVAE pretraining; one LA-GCN and one LA-GAT training
epoch beside the same models built from PyG's layers (the LA-GNN code's LA-GAT
is PyG's ``GATConv``); and the LA-GCN epoch beside one plain GCN epoch (the
overhead of augmentation). The paper's Cora settings, in one process.

Both LA sides train the same loss (glt's :func:`~glt.train.lagnn.la_loss`:
4 samples, each on a fresh generated set, plus the consistency term) with the
same layout and weights (the PyG twin loads glt's state dict; their eval
outputs on the same inputs are checked equal). glt draws its generated sets
with its sampler and trains on its layers and dropout, the features as a
sparse CSR matrix as ``scripts/train_lagnn.py`` feeds them on CPU (and dense,
a second row). PyG's twin takes ``edge_index``, torch's dropout and the LA-GNN
code's draws (the whole decoder per set, then row normalisation); a last
column gives it glt's draws, to separate the layers' share. Prints
``ratio = PyG time / glt time``.

    python benchmarks/bench_lagnn.py
"""
from __future__ import annotations

import argparse
import platform
import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench_node import PygStack, pyg_conv, pyg_twin
from glt.datasets import load_planetoid, row_normalize, sparse_features
from glt.memory import keep_freed_memory
from glt.models import GCN
from glt.models.lagnn import CVAE, la_backbone, train_cvae
from glt.models.lagnn.model import LAClassifier
from glt.train.args import count
from glt.train.lagnn import augmentation, la_loss
from glt.recipes.lagnn import PRESETS


class PygLA(nn.Module):
    """LA-GNN over PyG's layers: ``F.dropout -> firsts[k] -> act`` per input,
    concatenated, then ``rest`` (the LA-GNN code's ``LAGCN`` / ``LAGAT`` layout)."""

    def __init__(self, firsts: list[nn.Module], rest: PygStack, dropout: float,
                 activation: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.firsts, self.rest = nn.ModuleList(firsts), rest
        self.dropout, self.activation = dropout, activation

    def forward(self, xs: list[Tensor], edge_index: Tensor) -> Tensor:
        hidden = [self.activation(conv(F.dropout(x, self.dropout, self.training), edge_index))
                  for conv, x in zip(self.firsts, xs)]
        return self.rest(torch.cat(hidden, dim=-1), edge_index)


def pyg_la_twin(model: LAClassifier) -> PygLA:
    """The PyG LA model with ``model``'s layer sizes and weights."""
    twin = PygLA([pyg_conv(conv) for conv in model.firsts], pyg_twin(model.rest),
                 model.dropout, model.activation)
    twin.load_state_dict(model.state_dict())
    return twin


def code_draw(cvae: CVAE, raw: Tensor, x: Tensor, num_inputs: int) -> Callable[[], list[Tensor]]:
    """The LA-GNN code's draws: ``[x]`` and ``num_inputs - 1`` sets, each the whole
    decoder run on fresh ``z`` and the raw features, then row-normalised."""
    @torch.no_grad()
    def draw() -> list[Tensor]:
        sets = []
        for _ in range(num_inputs - 1):
            sets.append(row_normalize(cvae.decode(torch.randn(raw.size(0), cvae.latent), raw)))
        return [x] + sets
    return draw


def median_seconds(step: Callable[[], None], reps: int) -> float:
    """Median seconds of ``step()`` over ``reps`` calls after a warm-up."""
    step()
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        runs.append(time.perf_counter() - t0)
    return sorted(runs)[len(runs) // 2]


def train_step(model: nn.Module, loss: Callable[[], Tensor]) -> Callable[[], None]:
    """One Adam step (lr 0.01, weight decay 5e-4) on ``loss()``."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def step() -> None:
        model.train()
        opt.zero_grad()
        loss().backward()
        opt.step()
    return step


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--reps", type=count, default=20, help="timed training epochs per case")
    parser.add_argument("--glibc-defaults", action="store_true", help="leave glibc's "
                        "allocator as it is instead of keeping freed memory for reuse, as "
                        "glt's scripts do (glt.memory.keep_freed_memory)")
    args = parser.parse_args(argv)
    kept = False if args.glibc_defaults else keep_freed_memory()
    data = load_planetoid(args.dataset)
    raw = data.x
    data.x = row_normalize(raw)
    sparse = sparse_features(data.x)
    edge_index = torch.stack([data.graph.row(), data.graph.col])
    y = data.y[data.train_mask]
    print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"{platform.processor() or platform.machine()}  {data}  freed memory kept: {kept}")
    gcn_settings = PRESETS[f"gcn/{args.dataset}"]
    torch.manual_seed(0)
    cvae = CVAE(raw.size(1))
    t0 = time.perf_counter()
    train_cvae(cvae, raw, data.graph, gcn_settings["cvae_epochs"], gcn_settings["cvae_batch"],
               gcn_settings["cvae_lr"])
    print(f"CVAE pretraining ({gcn_settings['cvae_epochs']} epochs over "
          f"{data.graph.num_edges:,} pairs): {time.perf_counter() - t0:.1f}s")

    gcn = GCN(data.num_features, 16, data.num_classes)
    gcn_s = median_seconds(train_step(gcn, lambda: F.cross_entropy(
        gcn(sparse, data.graph)[data.train_mask], y)), args.reps)
    print(f"{'training epoch (ms)':<40} {'glt':>7} {'PyG':>7} {'ratio':>6} "
          f"{'PyG, glt draws':>15} {'ratio':>6}")
    la_seconds: dict[str, float] = {}
    for kind in ("gcn", "gat"):
        s = PRESETS[f"{kind}/{args.dataset}"]
        la = la_backbone(kind, data.num_features, s["hidden"], data.num_classes,
                         s["num_inputs"], s["dropout"], s["heads"], s["num_layers"],
                         init=s["init"], elu_alpha=s.get("elu_alpha"))
        twin = pyg_la_twin(la)
        glt_draws = {"sparse x": augmentation(cvae, raw, sparse, s["num_inputs"], row_normalize),
                     "dense x": augmentation(cvae, raw, data.x, s["num_inputs"], row_normalize)}
        with torch.no_grad():
            la.eval()
            twin.eval()
            xs = glt_draws["dense x"]()
            torch.testing.assert_close(la(xs, data.graph), twin(xs, edge_index),
                                       rtol=1e-4, atol=1e-5)

        def epoch(model: nn.Module, graph: object, draw: Callable[[], list[Tensor]]) -> float:
            return median_seconds(train_step(model, lambda: la_loss(
                lambda: model(draw(), graph), data.train_mask, y, s["samples"], s["lam"],
                s["temperature"])), args.reps)
        pyg_s = epoch(twin, edge_index, code_draw(cvae, raw, data.x, s["num_inputs"]))
        mixed_s = epoch(twin, edge_index, glt_draws["dense x"])
        name = f"LA-{kind.upper()} ({s['samples']} samples x {s['num_inputs']} inputs)"
        for label, draw in glt_draws.items():
            glt_s = la_seconds.setdefault(f"{kind}, {label}", epoch(la, data.graph, draw))
            print(f"{name + ', ' + label:<40} {glt_s * 1e3:>7.1f} {pyg_s * 1e3:>7.1f} "
                  f"{pyg_s / glt_s:>5.2f}x {mixed_s * 1e3:>15.1f} {mixed_s / glt_s:>5.2f}x")
    print(f"GCN epoch (16 hidden, sparse x): {gcn_s * 1e3:.1f} ms; LA-GCN / GCN overhead "
          f"{la_seconds['gcn, sparse x'] / gcn_s:.1f}x")

if __name__ == "__main__":
    main()
