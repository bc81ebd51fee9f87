"""Train a GNN link predictor on an OGB link set with OGB's example settings.

    python scripts/train_link.py --dataset ogbl-ddi --model sage --runs 10 --checkpoint ckpt/
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "link", *sys.argv[1:]]))
