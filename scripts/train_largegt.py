"""Train LargeGT (Dwivedi et al. 2023) on a node-classification set (default: bundled Cora).

    python scripts/train_largegt.py --dataset cora --runs 10
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "largegt", *sys.argv[1:]]))
