import hashlib
import os
import pickle
import shutil
import warnings

import pytest
import torch
from torch_geometric.datasets import Planetoid

from glt.datasets import load_planetoid, read_planetoid
from glt.datasets.planetoid import RAW_FILES, bundled_cora_dir
from glt.datasets.registry import dataset_info
from glt.datasets.testing import write_planetoid


def pyg_edges(data):
    return sorted(map(tuple, data.edge_index.t().tolist()))


def assert_equals_pyg(ours, pyg_root, name):
    ref = Planetoid(pyg_root, name)[0]
    assert torch.equal(ours.x, ref.x)
    assert torch.equal(ours.y, ref.y)
    for split in ("train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(ours, split), getattr(ref, split))
    assert sorted(map(tuple, ours.graph.edge_index().t().tolist())) == pyg_edges(ref)


def test_bundled_cora_equals_pyg_planetoid(tmp_path):
    cora = load_planetoid("cora")
    assert (cora.num_nodes, cora.graph.num_edges, cora.num_features, cora.num_classes) == (
        2708, 10556, 1433, 7)
    assert [int(m.sum()) for m in (cora.train_mask, cora.val_mask, cora.test_mask)] == [
        140, 500, 1000]
    shutil.copytree(bundled_cora_dir(), tmp_path / "Cora" / "raw")
    assert_equals_pyg(cora, str(tmp_path), "Cora")


def pickle_layout(path) -> tuple[set, set]:
    """The globals a pickle names and the opcodes it uses."""
    import pickletools
    with open(path, "rb") as f:
        ops = list(pickletools.genops(f.read()))
    return {arg for op, arg, _ in ops if op.name == "GLOBAL"}, {op.name for op, _, _ in ops}


def test_the_fixture_pickles_as_the_real_files(tmp_path):
    """Each fixture file names the globals the real Cora file names (Python 2's
    module paths) and uses no opcode the real one does not."""
    write_planetoid(str(tmp_path), "cora")
    for part in RAW_FILES[:-1]:
        real = pickle_layout(os.path.join(bundled_cora_dir(), f"ind.cora.{part}"))
        fixture = pickle_layout(tmp_path / f"ind.cora.{part}")
        assert fixture[0] == real[0] and fixture[1] <= real[1], part


def test_citeseer_layout_with_isolated_test_nodes_equals_pyg(tmp_path):
    raw = tmp_path / "CiteSeer" / "raw"
    write_planetoid(str(raw), "citeseer", missing_test=3)
    ours = load_planetoid("CiteSeer", root=str(tmp_path), download=False)
    assert ours.num_nodes == 520 + 12 + 3
    assert_equals_pyg(ours, str(tmp_path), "CiteSeer")


@pytest.mark.parametrize("split, counts", [
    ("full", {}), ("random", {}), ("random", dict(num_train_per_class=5, num_val=300,
                                                   num_test=700, seed=7)),
])
@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])
def test_full_and_random_splits_equal_pygs(tmp_path, name, split, counts):
    """The masks PyG's Planetoid makes (its random draws after
    ``torch.manual_seed(seed)``), on the real Cora and a CiteSeer-layout file set
    (isolated test nodes: label 0, in no public mask)."""
    raw = tmp_path / name / "raw"
    if name == "Cora":
        shutil.copytree(bundled_cora_dir(), raw)
    else:
        write_planetoid(str(raw), "citeseer", num_allx=600, num_test=40, missing_test=3)
        counts = dict(counts, num_train_per_class=2, num_val=100, num_test=50)
    ours = load_planetoid(name, root=str(tmp_path), download=False, split=split, **counts)
    torch.manual_seed(counts.get("seed", 0))
    pyg = {k: v for k, v in counts.items() if k != "seed"}
    ref = Planetoid(str(tmp_path), name, split=split, **pyg)[0]
    for mask in ("train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(ours, mask), getattr(ref, mask)), mask
    assert torch.equal(ours.x, ref.x) and torch.equal(ours.y, ref.y)


def test_splits_that_cannot_be_drawn_are_named():
    with pytest.raises(ValueError, match=r"expected split one of \('public', 'full', "
                                         r"'random'\), got 'geom-gcn' \(it needs the Geom-GCN"):
        load_planetoid("cora", split="geom-gcn")
    with pytest.raises(ValueError, match="class 0 has 351 nodes, fewer than "
                                         "num_train_per_class=400"):
        load_planetoid("cora", split="random", num_train_per_class=400)
    with pytest.raises(ValueError, match="2568 nodes are left after the training nodes, "
                                         "fewer than num_val \\+ num_test = 3000"):
        load_planetoid("cora", split="random", num_val=2000)
    with pytest.raises(ValueError, match="expected num_val to be an integer >= 0, got -1"):
        load_planetoid("cora", split="random", num_val=-1)


def test_the_planetoid_repositorys_flat_folder_is_read_in_place(shared_data, tmp_path):
    # ../shared/data/planetoid is laid out as the Planetoid repository's data/ folder
    flat = os.path.join(shared_data, "planetoid")
    bundled = load_planetoid("cora")
    for root in (flat, tmp_path):
        if root == tmp_path:  # PyG's Cora/ folder given as the root: its raw/ is read
            shutil.copytree(flat, tmp_path / "raw")
        ours = load_planetoid("cora", root=str(root), download=False)
        assert torch.equal(ours.x, bundled.x) and torch.equal(ours.y, bundled.y)
        assert torch.equal(ours.graph.col, bundled.graph.col)
        assert torch.equal(ours.test_mask, bundled.test_mask)
    # another set's files are not there: it is looked for in PyG's layout, not mixed in
    with pytest.raises(FileNotFoundError, match=r"missing Planetoid files in .*CiteSeer.raw"):
        load_planetoid("citeseer", root=flat, download=False)


def test_a_partial_flat_folder_names_its_missing_files(tmp_path):
    for part in RAW_FILES[:-1]:
        shutil.copy(os.path.join(bundled_cora_dir(), f"ind.cora.{part}"), tmp_path)
    with pytest.raises(FileNotFoundError, match=f"missing Planetoid files in {tmp_path}: "
                       r"ind.cora.test.index \(pass"):
        load_planetoid("cora", root=str(tmp_path), download=False)


def test_download_path_fetches_missing_files(tmp_path, monkeypatch):
    source = tmp_path / "server"
    write_planetoid(str(source), "pubmed", seed=3)
    # the fixture's checksums stand in for the real files' registered ones
    monkeypatch.setitem(dataset_info("pubmed").extra, "files", {
        f"ind.pubmed.{p}": {"sha256": hashlib.sha256((source / f"ind.pubmed.{p}").read_bytes())
                            .hexdigest(), "size": (source / f"ind.pubmed.{p}").stat().st_size}
        for p in RAW_FILES})
    root = tmp_path / "data"
    ours = load_planetoid("pubmed", root=str(root), url=source.as_uri())
    assert sorted(os.listdir(root / "PubMed" / "raw")) == sorted(
        f"ind.pubmed.{p}" for p in RAW_FILES)
    reference = read_planetoid(str(source), "pubmed")
    assert torch.equal(ours.x, reference.x) and torch.equal(ours.y, reference.y)


def test_files_other_than_the_registered_release_are_warned(tmp_path):
    raw = tmp_path / "Cora" / "raw"
    raw.mkdir(parents=True)
    for part in RAW_FILES:
        shutil.copy(os.path.join(bundled_cora_dir(), f"ind.cora.{part}"), raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real files: silent
        load_planetoid("cora", root=str(tmp_path), download=False)
    index = raw / "ind.cora.test.index"
    index.write_text(index.read_text().replace("\n", "\r\n"))  # the same ids, other bytes
    with pytest.warns(UserWarning, match=r"ind.cora.test.index is not cora's registered file"):
        data = load_planetoid("cora", root=str(tmp_path), download=False)
    assert torch.equal(data.test_mask, load_planetoid("cora").test_mask)


def test_failed_download_names_url_and_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="could not download .*ind.pubmed.x"):
        load_planetoid("pubmed", root=str(tmp_path), url=(tmp_path / "nowhere").as_uri())
    assert os.listdir(tmp_path) == []  # neither a partial file nor the empty PubMed/raw


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing Planetoid files in .*ind.citeseer.x"):
        load_planetoid("citeseer", root=str(tmp_path), download=False)


def test_corrupt_file_is_reported(tmp_path):
    raw = tmp_path / "Cora" / "raw"
    shutil.copytree(bundled_cora_dir(), raw)
    data = (raw / "ind.cora.allx").read_bytes()
    (raw / "ind.cora.allx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="could not read .*ind.cora.allx.*corrupt"):
        load_planetoid("cora", root=str(tmp_path), download=False)


@pytest.mark.parametrize("part,value", [("allx", float("nan")), ("ty", float("inf"))])
def test_a_non_finite_value_names_its_file(tmp_path, part, value):
    """A damaged file can hold a NaN feature (the dataset's check then named no
    file) or a NaN label (its argmax misread silently): named with the file."""
    import numpy as np
    import scipy.sparse as sp

    from glt.datasets.planetoid import _read
    from glt.datasets.testing import _Python2Pickler
    raw = tmp_path / "Cora" / "raw"
    shutil.copytree(bundled_cora_dir(), raw)
    matrix = _read(str(raw), "cora", part)
    matrix[846, 1] = value
    with open(raw / f"ind.cora.{part}", "wb") as f:
        _Python2Pickler(f, protocol=2).dump(sp.csr_matrix(matrix) if part == "allx" else
                                            matrix.astype(np.float64))
    with pytest.raises(ValueError, match=f"ind.cora.{part} holds 1 NaN or infinite values "
                       r"\(the first in row 846\); the file looks corrupt"):
        load_planetoid("cora", root=str(tmp_path), download=False)


@pytest.mark.parametrize("graph", [{0: [1, 2**70]}, {2**70: [1]}, {0: [-2**70]}])
def test_graph_file_ids_beyond_int64_are_named(tmp_path, graph):
    raw = tmp_path / "Cora" / "raw"
    shutil.copytree(bundled_cora_dir(), raw)
    (raw / "ind.cora.graph").write_bytes(pickle.dumps(graph, protocol=2))
    with pytest.raises(ValueError, match="ind.cora.graph to map node ids to lists of node ids"):
        load_planetoid("cora", root=str(tmp_path), download=False)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    raw = tmp_path / "Cora" / "raw"
    shutil.copytree(bundled_cora_dir(), raw)

    (raw / "ind.cora.graph").write_bytes(pickle.dumps(os.getcwd))  # a callable by reference
    with pytest.raises(ValueError, match="refusing the global posix.getcwd"):
        load_planetoid("cora", root=str(tmp_path), download=False)


def test_unknown_name():
    with pytest.raises(ValueError,
                       match="unknown dataset 'reddit'; expected one of: citeseer, cora, pubmed"):
        load_planetoid("reddit")
