"""Full models built from glt's layers."""
from glt.models.gnn import GAT, GCN, GraphSAGE, NodeClassifier

__all__ = ["GCN", "GAT", "GraphSAGE", "NodeClassifier"]
