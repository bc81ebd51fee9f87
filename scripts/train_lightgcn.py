"""Train LightGCN (He et al., SIGIR 2020) on a LightGCN-format set.

    python scripts/train_lightgcn.py --dataset gowalla --root ../shared/data/rec \
        --out results/lightgcn_gowalla.json
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "lightgcn", *sys.argv[1:]]))
