"""Dataset loaders."""
from glt.datasets.node import NodeDataset, row_normalize
from glt.datasets.planetoid import PLANETOID_NAMES, default_root, load_planetoid, read_planetoid

__all__ = ["NodeDataset", "row_normalize", "load_planetoid", "read_planetoid",
           "PLANETOID_NAMES", "default_root"]
