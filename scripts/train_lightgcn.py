"""Train LightGCN (He et al., SIGIR 2020) on a LightGCN-format set.

    python scripts/train_lightgcn.py --dataset gowalla --root ../shared/data/rec \
        --out results/lightgcn_gowalla.json
"""
from glt.train.rec_cli import main_lightgcn

if __name__ == "__main__":
    main_lightgcn()
