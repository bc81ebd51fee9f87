"""Train LargeGT (Dwivedi et al. 2023) on a node-classification set (default: bundled Cora).

    python scripts/train_largegt.py --dataset cora --runs 10
"""
from glt.train.largegt_cli import main

if __name__ == "__main__":
    main()
