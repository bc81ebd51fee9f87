"""Score a saved generator as the LA-GNN repository's Citation/cvae_tune.py scores a
pretraining setting: a GCN (32 hidden, the LA-GNN initialisation, lr 0.01, L2 5e-4)
trained 200 epochs on one generated, row-normalised feature set of Cora; in each run
the 500 validation nodes split at random into halves, val1 choosing the epoch (best
accuracy) and val2 scoring it.

    python scripts/score_lagnn_generator.py gen_f.pt [runs=30]
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from glt.datasets import load_planetoid, row_normalize
from glt.models.lagnn import CVAE
from glt.train.lagnn import selection_gcn


def main(path: str, runs: int) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = load_planetoid("cora")
    feats = row_normalize(CVAE.load(path).generate(data.x))
    val, y, train = data.val_mask.nonzero().view(-1).numpy(), data.y, data.train_mask
    start, val1_acc, val2_acc = time.time(), [], []
    for _ in range(runs):
        perm = torch.from_numpy(rng.permutation(val))
        val1, val2 = perm[:250], perm[250:]
        gcn = selection_gcn(data.num_features, data.num_classes)
        opt = torch.optim.Adam(gcn.parameters(), lr=0.01, weight_decay=5e-4)
        best1, best2 = 0.0, 0.0
        for _ in range(200):
            gcn.train()
            opt.zero_grad()
            F.cross_entropy(gcn(feats, data.graph)[train], y[train]).backward()
            opt.step()
            gcn.eval()
            with torch.no_grad():
                pred = gcn(feats, data.graph).argmax(1)
            acc1 = (pred[val1] == y[val1]).float().mean().item()
            if acc1 > best1:
                best1, best2 = acc1, (pred[val2] == y[val2]).float().mean().item()
        val1_acc.append(best1)
        val2_acc.append(best2)
    print(f"{path}: val1 {100 * np.mean(val1_acc):.2f}  val2 {100 * np.mean(val2_acc):.2f}"
          f" +- {100 * np.std(val2_acc):.2f}  ({runs} runs, {time.time() - start:.0f} s)")


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit("usage: python scripts/score_lagnn_generator.py GENERATOR.pt [RUNS=30]")
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30)
