"""Train GCN / GraphSAGE / GAT on Planetoid (default: bundled Cora).

    python scripts/train_node.py --model gcn --runs 10 --out results/gcn_cora.json
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "node", *sys.argv[1:]]))
