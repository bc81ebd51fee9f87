"""Models: node classifiers, the recommendation models, LA-GNN backbones and LargeGT."""
from glt.models.gnn import GAT, GCN, GraphSAGE, NodeClassifier
from glt.models.largegt import LargeGT, PaperLargeGT, TokenInputs
from glt.models.lightgcn import LightGCN
from glt.models.ultragcn import UltraGCN

__all__ = ["GCN", "GAT", "GraphSAGE", "NodeClassifier", "LargeGT", "PaperLargeGT", "TokenInputs",
           "LightGCN", "UltraGCN"]
