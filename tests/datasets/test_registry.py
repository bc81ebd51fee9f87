import os

import pandas as pd
import pytest

import ogb
from glt.datasets import dataset_info, list_datasets


def _ogb_master(kind: str) -> pd.DataFrame:
    path = os.path.join(os.path.dirname(ogb.__file__), kind, "master.csv")
    return pd.read_csv(path, index_col=0, keep_default_na=False)


def test_lists_every_family():
    names = list_datasets()
    for name in ("cora", "citeseer", "pubmed", "ogbn-arxiv", "ogbn-products", "ogbn-proteins",
                 "ogbn-papers100M", "ogbl-collab", "ogbl-ddi", "ogbl-ppa", "gowalla", "yelp2018",
                 "amazon-book", "ml-1m", "snap-patents"):
        assert name in names
    assert list_datasets(source="ogb", task="link") == ["ogbl-citation2", "ogbl-collab",
                                                        "ogbl-ddi", "ogbl-ppa"]


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'ogbn-foo'; expected one of: .*"
                                         "ogbn-arxiv, ogbn-papers100M"):
        dataset_info("ogbn-foo", source="ogb")
    with pytest.raises(ValueError, match="expected one of: amazon-book, gowalla"):
        dataset_info("cora", source="lightgcn")


def test_case_insensitive():
    assert dataset_info("Cora").title == "Cora"
    assert dataset_info("ogbn-papers100M").name == "ogbn-papers100M"


@pytest.mark.parametrize("name", list_datasets(source="ogb"))
def test_ogb_facts_match_ogb_master_csv(name):
    info = dataset_info(name)
    master = _ogb_master("nodeproppred" if info.task == "node" else "linkproppred")[name]
    # the same file, fetched over https (OGB's master.csv names http)
    assert info.url == master["url"].replace("http://", "https://", 1)
    assert info.version == int(master["version"])
    assert info.metric == master["eval metric"]
    assert info.split == master["split"]
    assert info.extra["download_name"] == master["download_name"]
    for key in ("add_inverse_edge", "binary", "has_node_attr", "has_edge_attr"):
        assert info.extra[key] == (master[key] == "True"), key
    files = {"node_files": "additional node files", "edge_files": "additional edge files"}
    for key, column in files.items():
        expected = [] if master[column] == "None" else master[column].split(",")
        assert info.extra[key] == expected
    if info.task == "node":
        assert info.num_classes == int(master["num classes"])
        assert info.extra["num_tasks"] == int(master["num tasks"])
