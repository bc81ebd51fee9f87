"""Train UltraGCN (Mao et al., CIKM 2021) on a LightGCN-format set with the
official per-dataset settings.

    python scripts/train_ultragcn.py --dataset ml-1m --root ../shared/data/rec \
        --out results/ultragcn_ml1m.json
"""
import sys

from glt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "ultragcn", *sys.argv[1:]]))
