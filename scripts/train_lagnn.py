"""Train LA-GCN / LA-GAT / LA-SAGE (Liu et al., ICML 2022) on Planetoid (default: bundled Cora).

    python scripts/train_lagnn.py --model gcn --runs 10 --compare --generator cvae_cora.pt
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "lagnn", *sys.argv[1:]]))
