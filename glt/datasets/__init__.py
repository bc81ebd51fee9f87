"""Dataset loaders: Planetoid, OGB node/link sets, LightGCN-format recommender
sets and snap-patents, all described by one registry (``registry.json``)."""
from glt.datasets.link import LinkDataset
from glt.datasets.linkx import load_snap_patents
from glt.datasets.load import load_dataset
from glt.datasets.node import NodeDataset, row_normalize, sparse_features
from glt.datasets.ogb import load_ogb
from glt.datasets.planetoid import PLANETOID_NAMES, default_root, load_planetoid, read_planetoid
from glt.datasets.rec import RecDataset, load_rec
from glt.datasets.registry import DatasetInfo, dataset_info, list_datasets

__all__ = ["NodeDataset", "LinkDataset", "RecDataset", "DatasetInfo", "row_normalize",
           "sparse_features", "load_dataset", "load_planetoid", "read_planetoid", "load_ogb",
           "load_rec", "load_snap_patents", "dataset_info", "list_datasets", "PLANETOID_NAMES",
           "default_root"]
