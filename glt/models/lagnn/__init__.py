"""Local augmentation for GNNs (LA-GNN): a conditional VAE generator and an
input-branching wrapper around GCN, GAT or GraphSAGE."""
from glt.models.lagnn.cvae import CVAE, neighbour_pairs, train_cvae
from glt.models.lagnn.lagnn_code import read_lagnn_code_generator, write_lagnn_code_generator
from glt.models.lagnn.model import LAClassifier, LAMean, consistency_loss, la_backbone

__all__ = ["CVAE", "neighbour_pairs", "train_cvae", "LAClassifier", "LAMean", "la_backbone",
           "consistency_loss", "read_lagnn_code_generator", "write_lagnn_code_generator"]
