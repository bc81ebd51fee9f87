import os

import pytest

from glt.datasets import LinkDataset, NodeDataset, RecDataset, load_dataset
from glt.datasets.testing import write_lightgcn, write_ogb, write_snap_patents


def test_dispatches_on_the_registry(tmp_path):
    root = str(tmp_path)
    write_ogb(root, "ogbl-ddi")
    write_lightgcn(os.path.join(root, "gowalla"))
    write_snap_patents(os.path.join(root, "snap-patents", "snap_patents.mat"))
    assert load_dataset("cora").name == "Cora"
    assert isinstance(load_dataset("ogbl-ddi", root), LinkDataset)
    assert isinstance(load_dataset("gowalla", root, download=False), RecDataset)
    snap = load_dataset("snap-patents", root, download=False)
    assert isinstance(snap, NodeDataset) and snap.num_classes == 5


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'reddit'; expected one of: "
                                         "amazon-book, citeseer, cora"):
        load_dataset("reddit")


@pytest.mark.parametrize("name", ["cora", "citeseer", "ogbl-ddi", "ogbn-arxiv", "gowalla",
                                  "snap-patents"])
def test_a_root_that_is_a_file_is_named(tmp_path, name):
    """Each loader met a file where its data folder should be with an OS error of
    its own (ogb's: FileExistsError while making the download folder)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match=f"^{blocker} is not a folder$"):
        load_dataset(name, str(blocker), download=False)
    with pytest.raises(NotADirectoryError, match=f"^{blocker / 'data'} is not a folder "
                                                 rf"\({blocker} is a file\)$"):
        load_dataset(name, str(blocker / "data"))
