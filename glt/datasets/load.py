"""``load_dataset``: any registered dataset by name."""
from __future__ import annotations

from typing import Optional, Union

from glt.datasets.link import LinkDataset
from glt.datasets.linkx import load_snap_patents
from glt.datasets.node import NodeDataset
from glt.datasets.ogb import load_ogb
from glt.datasets.planetoid import load_planetoid
from glt.datasets.rec import RecDataset, load_rec
from glt.datasets.registry import dataset_info

Dataset = Union[NodeDataset, LinkDataset, RecDataset]


def load_dataset(name: str, root: Optional[str] = None, download: bool = True) -> Dataset:
    """Load the registered dataset ``name`` with its loader's defaults
    (see :func:`glt.datasets.list_datasets`); ``root`` and ``download`` are passed on."""
    source = dataset_info(name).source
    if source == "planetoid":
        return load_planetoid(name, root, download)
    if source == "ogb":
        return load_ogb(name, root, download)
    if source == "lightgcn":
        return load_rec(name, root, download)
    return load_snap_patents(root, download)
