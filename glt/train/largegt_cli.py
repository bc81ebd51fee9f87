"""Command line for LargeGT (``scripts/train_largegt.py``): token preparation,
repeated runs, mean +- std at the best validation epoch, JSON out."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from glt.datasets import NodeDataset, load_dataset, row_normalize
from glt.datasets.planetoid import default_root
from glt.memory import keep_freed_memory
from glt.models.largegt import LargeGT, TokenInputs
from glt.train import distributed
from glt.train.args import Parser, add_output, add_runs, count, preset_flag
from glt.train.largegt import train_largegt
from glt.train.metrics import dataset_score
from glt.train.node import repeat_runs
from glt.train.output import hardware, write_json

_BASE = dict(num_tokens=100, batch_size=1024, hidden=256, global_dim=64, num_codes=4096,
             heads=2, lr=1e-3, weight_decay=0.0, epochs=100, dropout=0.1, attn_dropout=0.1,
             input_dropout=0.0, eval_every=1, eval_samples=1, token_encoder="mlp",
             node_queries=False, optimizer="adamw")
# the LargeGT authors' runs (docs/03_reproduce.md of snap-research/LargeGT) for the
# large sets; Planetoid: a small-data setting measured on Cora (140 labels): one sampled
# node beside the target (more sampled tokens did not help there), heavy input dropout,
# one linear token map per hop, node-only queries, Adam with L2 as for GCN, and the class
# probabilities of 8 token draws averaged when scoring (one draw leaves about a point of
# accuracy to chance there)
PRESETS: dict[str, dict[str, Any]] = {
    "ogbn-products": dict(_BASE),
    "snap-patents": dict(_BASE, num_tokens=50, batch_size=2048, hidden=128),
    "ogbn-papers100M": dict(_BASE, hidden=512, global_dim=128, stream_hops=True),
    "planetoid": dict(_BASE, num_tokens=2, batch_size=140, hidden=64, global_dim=32,
                      num_codes=64, lr=0.01, weight_decay=5e-4, epochs=600, dropout=0.5,
                      attn_dropout=0.2, input_dropout=0.9, eval_every=5, eval_samples=8,
                      token_encoder="per_hop", node_queries=True, optimizer="adam"),
}


def load_pos_enc(path: str, num_nodes: int) -> Tensor:
    """``[num_nodes, d]`` positional encoding (e.g. node2vec embeddings) from a
    ``.npy`` file or a ``.pt`` file holding one tensor (``torch.save``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no positional encoding file {path!r}")
    pos = (torch.from_numpy(np.load(path)) if path.endswith(".npy")
           else torch.load(path, map_location="cpu", weights_only=True))
    if not isinstance(pos, Tensor) or pos.dim() != 2 or pos.size(0) != num_nodes:
        shape = tuple(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ValueError(f"{path} should hold a [{num_nodes}, d] positional encoding (one "
                         f"row per node), got {shape}")
    return pos.float()


def build_parser() -> Parser:
    p = Parser(description="Train LargeGT (Dwivedi et al. 2023) on a node "
                                "classification set.")
    p.add_argument("--dataset", default="cora", help="any registered node set (cora, "
                   "ogbn-products, snap-patents, ogbn-papers100M, ...)")
    p.add_argument("--root", default=None)
    p.add_argument("--preset", default=None, help=f"one of {sorted(PRESETS)} (default: the "
                   "dataset's, 'planetoid' for the Planetoid sets)")
    add_runs(p, 1)
    for key in ("epochs", "num_tokens", "batch_size", "eval_every"):
        preset_flag(p, key, None)
    p.add_argument("--eval-samples", type=count, default=None, help="token draws whose class "
                   "probabilities are averaged for each validation / test node (default: the "
                   "preset's)")
    p.add_argument("--pos-enc", default=None, help="a .npy or .pt file with a [num_nodes, d] "
                   "positional encoding (the authors use node2vec embeddings) for the global "
                   "module's queries and codebook")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (autocast)")
    p.add_argument("--checkpoint", default=None, help="folder of per-run checkpoints "
                   "(seed<N>.pt, written every epoch): a killed job started again resumes "
                   "its unfinished run and skips the finished ones")
    p.add_argument("--hop-cache", default=None, help="folder for the [N, 3, F] hop features, "
                   "computed there in streamed blocks once and memory-mapped afterwards "
                   "(default: in memory; the ogbn-papers100M preset caches under "
                   "<root>/largegt_hops/<dataset>)")
    add_output(p)
    return p


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_checked(argv)
    keep_freed_memory()
    shard, device = distributed.init(args.device)
    data = load_dataset(args.dataset, args.root)
    if not isinstance(data, NodeDataset) or data.x is None or data.y.dim() != 1:
        raise ValueError(f"{args.dataset} is not a single-label node set with features")
    source = data.info.source if data.info is not None else None
    name = args.preset or ("planetoid" if source == "planetoid" else data.name)
    if name not in PRESETS:
        raise ValueError(f"no preset named {name!r}; expected one of {sorted(PRESETS)}")
    s = dict(PRESETS[name])
    for key in ("epochs", "num_tokens", "batch_size", "eval_every", "eval_samples"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    if source == "planetoid":
        data.x = row_normalize(data.x)
    data = data.to(device)
    start = time.perf_counter()
    cache = args.hop_cache
    if cache is None and s.get("stream_hops"):
        cache = os.path.join(args.root or default_root(), "largegt_hops", data.name)
    pos = None if args.pos_enc is None else load_pos_enc(args.pos_enc, data.num_nodes)
    inputs = TokenInputs(data.graph, data.x, s["num_tokens"], cache=cache, pos=pos)
    prep = time.perf_counter() - start
    def make() -> torch.nn.Module:
        return LargeGT(data.num_features, s["hidden"], data.num_classes, s["heads"],
                       s["global_dim"], s["num_codes"], s["dropout"], s["attn_dropout"],
                       s["input_dropout"], s["token_encoder"], s["node_queries"],
                       0 if pos is None else pos.size(1))
    summary = repeat_runs(make, data, args.runs, seed=args.seed,
                          progress=not args.quiet and shard.is_main, train=train_largegt,
                          shard=shard, inputs=inputs, batch_size=s["batch_size"],
                          epochs=s["epochs"], lr=s["lr"], weight_decay=s["weight_decay"],
                          eval_every=s["eval_every"], score=dataset_score(data),
                          checkpoint=args.checkpoint, amp=args.amp,
                          optimizer=s["optimizer"], eval_samples=s["eval_samples"], settings=s)
    result = {"model": "largegt", "dataset": data.name, "preset": name,
              "test_acc_mean": summary["test_acc"], "test_acc_std": summary["test_acc_std"],
              "val_acc_mean": summary["val_acc"], "runs": args.runs,
              "seconds": summary["seconds"], "token_seconds": prep, "settings": s,
              "pos_enc": args.pos_enc,
              "per_run": summary["per_run"], "device": str(device), "amp": args.amp,
              "world_size": shard.world_size,
              "hardware": hardware(args.device)}
    distributed.finish(shard)
    if not shard.is_main:
        return result
    print(f"LargeGT on {data.name}: test acc {100 * result['test_acc_mean']:.2f} +- "
          f"{100 * result['test_acc_std']:.2f} over {args.runs} runs (tokens prepared in "
          f"{prep:.1f}s)", flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
