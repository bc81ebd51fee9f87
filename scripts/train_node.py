"""Train GCN / GraphSAGE / GAT on Planetoid (default: bundled Cora).

    python scripts/train_node.py --model gcn --runs 10 --out results/gcn_cora.json
"""
from glt.train.node_cli import main

if __name__ == "__main__":
    main()
