import builtins
import gzip
import json
import os
import socket
import shutil
import zipfile

import numpy as np
import pytest
import torch

import glt.datasets._cache as glt_cache
import glt.datasets._fields as glt_fields
import glt.datasets.ogb as glt_ogb
from glt.cli import main as cli_main
from glt.datasets._cache import verify_cache
from glt.datasets import LinkDataset, NodeDataset, load_ogb
from glt.datasets.testing import _write_csv, write_ogb
from glt.graph import CSRGraph
from tests.oracles import numpy2_pickle_names

NODE_SETS = ["ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M"]
LINK_SETS = ["ogbl-citation2", "ogbl-collab", "ogbl-ddi", "ogbl-ppa"]


@pytest.fixture(autouse=True)
def no_prompt(monkeypatch):
    """glt must never ask on stdin (CI has none)."""
    def refuse(*args, **kwargs):
        raise AssertionError("input() was called")
    monkeypatch.setattr(builtins, "input", refuse)


def _same_csr(graph: CSRGraph, edge_index: np.ndarray, num_nodes: int) -> None:
    ref = CSRGraph.from_edge_index(torch.from_numpy(edge_index), num_nodes)
    assert torch.equal(graph.rowptr, ref.rowptr)
    assert torch.equal(graph.col, ref.col)


@pytest.mark.parametrize("name", NODE_SETS)
def test_node_set_equals_ogb(tmp_path, name, monkeypatch):
    path = write_ogb(str(tmp_path), name, num_nodes=50, num_edges=180, seed=3)
    data = load_ogb(name, str(tmp_path), download=False)
    os.makedirs(os.path.join(path, "processed"))  # ogb's reader saves there
    assert isinstance(data, NodeDataset)
    monkeypatch.setattr(builtins, "input", lambda *a: "n")  # the oracle may ask; we never do
    from ogb.nodeproppred import NodePropPredDataset
    ref = NodePropPredDataset(name, root=str(tmp_path))
    graph, labels = ref[0]
    _same_csr(data.graph, graph["edge_index"], graph["num_nodes"])
    if graph["node_feat"] is None:
        assert data.x is None
    else:
        assert np.array_equal(data.x.numpy(), graph["node_feat"])
    expected_y = np.where(np.isnan(labels), -1, labels).astype(np.int64) \
        if labels.dtype.kind == "f" else labels
    assert np.array_equal(data.y.numpy().reshape(labels.shape), expected_y)
    split = ref.get_idx_split()
    for key, idx in data.split_idx().items():
        assert np.array_equal(idx.numpy(), np.sort(split[key]))
    if "node_year" in graph:
        assert np.array_equal(data.node_attr["node_year"].numpy(), graph["node_year"][:, 0])
    if graph["edge_feat"] is not None:  # edge features follow the CSR order through edge ids
        assert np.array_equal(data.edge_attr.numpy(), graph["edge_feat"][data.graph.edge_id])
    assert data.num_classes == ref.num_classes


def trust_files_for_ogb(monkeypatch):
    """ogb 1.3.6 calls ``torch.load`` with torch's default ``weights_only=True``
    (since torch 2.6), which refuses OGB's own split files (NumPy arrays in the
    legacy format): the oracle is allowed to unpickle these trusted fixtures."""
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: real(*a, **{**k, "weights_only": False}))


@pytest.mark.parametrize("name", LINK_SETS)
def test_link_set_equals_ogb(tmp_path, name, monkeypatch):
    trust_files_for_ogb(monkeypatch)
    path = write_ogb(str(tmp_path), name, num_nodes=40, num_edges=150, seed=4)
    data = load_ogb(name, str(tmp_path), download=False)
    os.makedirs(os.path.join(path, "processed"))
    assert isinstance(data, LinkDataset)
    from ogb.linkproppred import LinkPropPredDataset
    ref = LinkPropPredDataset(name, root=str(tmp_path))
    graph = ref[0]
    _same_csr(data.graph, graph["edge_index"], graph["num_nodes"])
    for key in ("edge_weight", "edge_year"):
        if key in graph:
            assert np.array_equal(data.edge_data[key].numpy(),
                                  graph[key][data.graph.edge_id.numpy()])
    node_files = [k for k in graph if k.startswith("node_") and k != "node_feat"]
    assert sorted(data.node_attr) == node_files  # ogbl-citation2's node_year
    for key in node_files:
        assert np.array_equal(data.node_attr[key].numpy(), graph[key][:, 0])
    split = ref.get_edge_split()
    assert split.keys() == data.split.keys()
    for part in split:
        assert split[part].keys() == data.split[part].keys()
        for key, value in split[part].items():
            assert torch.equal(torch.as_tensor(value), data.split[part][key])
    # OGB's PyG loader on the same files: from_pyg reads its pair as load_ogb reads
    # the files, and to_pyg gives a pair of the same fields
    from ogb.linkproppred import PygLinkPropPredDataset
    pyg = PygLinkPropPredDataset(name, root=str(tmp_path))
    theirs, split_edge = pyg[0], pyg.get_edge_split()
    for back in (LinkDataset.from_pyg(theirs, split_edge, name),
                 LinkDataset.from_pyg(*data.to_pyg(), name)):
        _same_csr(back.graph, graph["edge_index"], graph["num_nodes"])
        assert back.edge_data.keys() == data.edge_data.keys()
        for key, value in data.edge_data.items():
            assert torch.equal(back.edge_data[key], value), key
        assert back.node_attr.keys() == data.node_attr.keys()
        for key, value in data.node_attr.items():
            assert torch.equal(back.node_attr[key], value), key
        assert (back.x is None) == (data.x is None)
        assert back.x is None or torch.equal(back.x, data.x)
        for part in split:
            for key, value in data.split[part].items():
                assert torch.equal(back.split[part][key], value)
    ours = data.to_pyg()[0]
    assert sorted(ours.keys()) == sorted(theirs.keys())
    for key in theirs.keys():  # the same shapes (edge_index: the same edges, CSR order)
        value = theirs[key]
        assert getattr(ours[key], "shape", ours[key]) == getattr(value, "shape", value), key


def test_evaluators_are_ogbs(tmp_path):
    write_ogb(str(tmp_path), "ogbn-arxiv")
    data = load_ogb("ogbn-arxiv", str(tmp_path))
    y = data.y.view(-1, 1)
    result = data.evaluator().eval({"y_true": y, "y_pred": y})
    assert result == {"acc": 1.0}
    write_ogb(str(tmp_path), "ogbl-ddi")
    link = load_ogb("ogbl-ddi", str(tmp_path))
    hits = link.evaluator().eval({"y_pred_pos": torch.ones(30), "y_pred_neg": torch.zeros(30)})
    assert hits["hits@20"] == 1.0


def test_second_load_uses_memory_mapped_cache(tmp_path, monkeypatch):
    write_ogb(str(tmp_path), "ogbn-products")
    first = load_ogb("ogbn-products", str(tmp_path))

    def fail(*args):
        raise AssertionError("reprocessed although the cache is valid")
    monkeypatch.setattr(glt_ogb, "_process", fail)
    second = load_ogb("ogbn-products", str(tmp_path))
    assert torch.equal(first.graph.col, second.graph.col) and torch.equal(first.x, second.x)
    cache = os.path.join(str(tmp_path), "ogbn_products", "glt_processed")
    assert isinstance(np.load(os.path.join(cache, "col.npy"), mmap_mode="c"), np.memmap)


def test_cached_load_does_not_read_the_features_again(tmp_path, monkeypatch):
    """Features are found finite when the cache is built (recorded in its
    meta.json) and a cached load does not scan them again; a dataset made from
    a copy of them is still checked."""
    write_ogb(str(tmp_path), "ogbn-products")
    first = load_ogb("ogbn-products", str(tmp_path))
    with open(os.path.join(_cache(tmp_path), "meta.json")) as f:
        records = json.load(f)["arrays"]
    assert records["x"]["finite"] is True and "finite" not in records["col"]

    def fail(values):
        raise AssertionError(f"read {tuple(values.shape)} again")
    monkeypatch.setattr(glt_fields, "count_nonfinite", fail)
    second = load_ogb("ogbn-products", str(tmp_path))
    assert torch.equal(first.x, second.x)
    with pytest.raises(AssertionError, match=r"read \(60, 5\) again"):
        NodeDataset("copy", second.graph, second.x.clone(), second.y, second.train_mask,
                    second.val_mask, second.test_mask, second.num_classes)


def test_non_finite_features_of_a_release_are_named_at_every_load(tmp_path, monkeypatch):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=30, num_edges=60)
    feat = os.path.join(path, "raw", "node-feat.csv.gz")
    with gzip.open(feat, "rt") as f:
        lines = f.read().splitlines()
    lines[7] = "nan," + lines[7].split(",", 1)[1]
    lines[9] = lines[9].rsplit(",", 1)[0] + ",inf"
    with gzip.open(feat, "wt") as f:
        f.write("\n".join(lines) + "\n")
    message = r"ogbn-arxiv: 2 NaN or infinite values in x \(the first in row 7\)"
    with pytest.raises(ValueError, match=message):
        load_ogb("ogbn-arxiv", str(tmp_path))
    monkeypatch.setattr(glt_ogb, "_process", None)  # the cache stands: not processed again
    with pytest.raises(ValueError, match=message):
        load_ogb("ogbn-arxiv", str(tmp_path))


def test_changed_source_file_invalidates_cache(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=30, num_edges=60)
    before = load_ogb("ogbn-arxiv", str(tmp_path))
    edge = np.array([[0, 1], [1, 2]] * 30)
    _write_csv(os.path.join(path, "raw", "edge.csv.gz"), edge)
    after = load_ogb("ogbn-arxiv", str(tmp_path))
    assert not torch.equal(before.graph.rowptr, after.graph.rowptr)
    _same_csr(after.graph, edge.T, 30)


def test_interrupted_processing_leaves_no_cache(tmp_path, monkeypatch):
    write_ogb(str(tmp_path), "ogbn-arxiv")
    real = glt_ogb._save_labels

    def interrupt(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(glt_ogb, "_save_labels", interrupt)
    with pytest.raises(KeyboardInterrupt):
        load_ogb("ogbn-arxiv", str(tmp_path))
    folder = os.path.join(str(tmp_path), "ogbn_arxiv")
    assert not [f for f in os.listdir(folder) if f.startswith("glt_processed")]
    monkeypatch.setattr(glt_ogb, "_save_labels", real)
    assert load_ogb("ogbn-arxiv", str(tmp_path)).y.numel() == 60


def test_truncated_csv_is_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=500, num_edges=5000)
    edge_file = os.path.join(path, "raw", "edge.csv.gz")
    with open(edge_file, "rb") as f:
        data = f.read()
    with open(edge_file, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="edge.csv.gz.*truncated or corrupt"):
        load_ogb("ogbn-arxiv", str(tmp_path))


def test_missing_file_is_named(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv")
    os.remove(os.path.join(path, "raw", "node-label.csv.gz"))
    with pytest.raises(FileNotFoundError, match="incomplete: missing raw/node-label.csv.gz"):
        load_ogb("ogbn-arxiv", str(tmp_path))


def test_absent_release_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        load_ogb("ogbn-arxiv", str(tmp_path), download=False)


def test_non_numeric_line_is_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv")
    with gzip.open(os.path.join(path, "raw", "edge.csv.gz"), "at") as f:
        f.write("3,abc\n")
    with pytest.raises(ValueError, match="edge.csv.gz"):
        load_ogb("ogbn-arxiv", str(tmp_path))


def test_out_of_range_ids_are_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=20, num_edges=30)
    edge = np.array([[0, 1]] * 29 + [[5, 20]])
    _write_csv(os.path.join(path, "raw", "edge.csv.gz"), edge)
    with pytest.raises(ValueError, match=r"edge.csv.gz: edge 29 \(5, 20\) has a node id "
                                         r"outside \[0, 20\)"):
        load_ogb("ogbn-arxiv", str(tmp_path))
    write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=20, num_edges=30)
    _write_csv(os.path.join(path, "split", "time", "test.csv.gz"), np.array([3, 25]))
    with pytest.raises(ValueError, match=r"test.csv.gz: id 25 is outside \[0, 20\)"):
        load_ogb("ogbn-arxiv", str(tmp_path))


@pytest.mark.parametrize("change, message", [
    (lambda p: {**p, "target_node_neg": p["target_node_neg"][:-1]},
     r"valid.pt \['target_node_neg'\] has \d+ rows and .*valid.pt \['source_node'\] \d+; "
     r"expected one per source"),
    (lambda p: {**p, "target_node_neg": p["target_node_neg"][:, 0]},
     r"expected .*valid.pt \['target_node_neg'\] of shape \[M, K\], got \(\d+,\)"),
    (lambda p: {**p, "source_node": p["source_node"] + 40},
     r"valid.pt \[source_node\]: id \d+ is outside \[0, 40\)"),
    (lambda p: {"target_node": p["target_node"]},
     r"valid.pt: expected a dict with an 'edge' entry \(or 'source_node' and 'target_node'\)"),
])
def test_a_damaged_citation2_split_names_its_file(tmp_path, change, message):
    from glt._unpickle import NUMPY, read_torch_file
    path = write_ogb(str(tmp_path), "ogbl-citation2", num_nodes=40, num_edges=150)
    valid = os.path.join(path, "split", "time", "valid.pt")
    part = change(read_torch_file(valid, NUMPY))
    torch.save(part, valid, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=message):
        load_ogb("ogbl-citation2", str(tmp_path), download=False)
    assert not os.path.exists(os.path.join(path, "glt_processed"))  # nothing cached


def test_row_count_mismatch_is_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=20, num_edges=30)
    _write_csv(os.path.join(path, "raw", "node-feat.csv.gz"), np.ones((19, 5), np.float32))
    with pytest.raises(ValueError, match="node-feat.csv.gz: expected 20 rows, got 19"):
        load_ogb("ogbn-arxiv", str(tmp_path))


@pytest.mark.parametrize("count, message", [
    ("-5", "expected a non-negative integer count, got -5"),
    ("20.5", "expected a non-negative integer count, got 20.5"),
    ("abc", "holds non-numeric values"),
    ("20\n20", "expected the count of one graph, got 2 values"),
    ("1000000000000", "its 1000000000000 nodes need a row pointer of 7450.6 GiB"),
])
def test_bad_node_counts_are_reported(tmp_path, count, message):
    """A damaged count is named, never an allocator's error (1e12 nodes: 8 TB)."""
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=20, num_edges=30)
    with gzip.open(os.path.join(path, "raw", "num-node-list.csv.gz"), "wt") as f:
        f.write(count + "\n")
    with pytest.raises(ValueError, match=message):
        load_ogb("ogbn-arxiv", str(tmp_path))


def test_a_whole_float_node_count_reads_as_ogb_reads_it(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-arxiv", num_nodes=20, num_edges=30)
    with gzip.open(os.path.join(path, "raw", "num-node-list.csv.gz"), "wt") as f:
        f.write("20.0\n")
    assert load_ogb("ogbn-arxiv", str(tmp_path)).num_nodes == 20


def test_bad_node_count_of_a_binary_release_is_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-papers100M", num_nodes=30, num_edges=60)
    npz = os.path.join(path, "raw", "data.npz")
    with np.load(npz) as f:
        arrays = dict(f)
    arrays["num_nodes_list"] = np.array([-1])
    np.savez(npz, **arrays)
    with pytest.raises(ValueError, match=r"data.npz \[num_nodes_list\]: expected a "
                                         r"non-negative integer count, got -1"):
        load_ogb("ogbn-papers100M", str(tmp_path))


def test_split_nodes_without_labels_are_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-papers100M", num_nodes=30, num_edges=60)
    with np.load(os.path.join(path, "raw", "node-label.npz")) as f:
        unlabelled = np.flatnonzero(np.isnan(f["node_label"][:, 0]))
    data = load_ogb("ogbn-papers100M", str(tmp_path))
    assert (data.y < 0).any() and data.y[data.train_mask].min() >= 0
    _write_csv(os.path.join(path, "split", "time", "train.csv.gz"), unlabelled[:2])
    with pytest.raises(ValueError, match="train.csv.gz: 2 of its 2 nodes have no label"):
        load_ogb("ogbn-papers100M", str(tmp_path))


def _zip_release(tmp_path, name: str, download_name: str) -> str:
    """A release zip laid out as OGB's (the release folder under its download name)."""
    src = tmp_path / "src"
    folder = write_ogb(str(src), name)
    os.rename(folder, str(src / download_name))
    archive = shutil.make_archive(str(tmp_path / "release"), "zip", str(src), download_name)
    return archive


def test_old_release_needs_update_then_downloads(tmp_path, monkeypatch):
    archive = _zip_release(tmp_path, "ogbn-arxiv", "arxiv")
    root = tmp_path / "root"
    old = root / "ogbn_arxiv"
    old.mkdir(parents=True)
    (old / "stale.txt").write_text("an older release without RELEASE_v1.txt")
    fetched = []

    def fake_download(url, path, expected=None):
        fetched.append(url)
        shutil.copy(archive, path)
        return path
    monkeypatch.setattr(glt_ogb, "download_url", fake_download)
    with pytest.raises(RuntimeError, match="older release.*pass update=True"):
        load_ogb("ogbn-arxiv", str(root))
    data = load_ogb("ogbn-arxiv", str(root), update=True)
    assert fetched == ["https://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip"]
    assert data.num_nodes == 60 and not (old / "stale.txt").exists()
    assert not os.path.exists(root / "arxiv.zip")


def test_corrupt_download_is_deleted(tmp_path, monkeypatch):
    def bad_download(url, path, expected=None):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 not really a zip")
        return path
    monkeypatch.setattr(glt_ogb, "download_url", bad_download)
    with pytest.raises(ValueError, match="download of .*arxiv.zip is corrupt"):
        load_ogb("ogbn-arxiv", str(tmp_path))
    assert not os.path.exists(tmp_path / "arxiv.zip")
    assert not os.path.exists(tmp_path / "ogbn_arxiv")


def test_corrupt_binary_release_is_reported(tmp_path):
    path = write_ogb(str(tmp_path), "ogbn-papers100M")
    npz = os.path.join(path, "raw", "data.npz")
    with open(npz, "rb") as f:
        data = f.read()
    with open(npz, "wb") as f:
        f.write(data[: len(data) - 200])
    with pytest.raises(ValueError, match="data.npz.*truncated or corrupt"):
        load_ogb("ogbn-papers100M", str(tmp_path))
    assert zipfile.is_zipfile is not None  # the module stays importable after the failure


# ------------------------------------------------------------ damaged caches
def _cache(tmp_path) -> str:
    return os.path.join(str(tmp_path), "ogbn_products", "glt_processed")


def _overwrite(path: str, offset_from_end: int, value: np.ndarray) -> None:
    """Same-size corruption: overwrite bytes near the end of a file in place."""
    raw = value.tobytes()
    with open(path, "r+b") as f:
        f.seek(-offset_from_end, os.SEEK_END)
        f.write(raw)


@pytest.mark.parametrize("damage", ["col", "rowptr", "x", "empty_npy", "meta"])
def test_damaged_cache_is_rebuilt(tmp_path, damage, caplog):
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=300, num_edges=2000)
    loaded = load_ogb("ogbn-products", str(tmp_path))  # memory maps: copy before the damage
    first = [t.clone() for t in (loaded.graph.rowptr, loaded.graph.col, loaded.x, loaded.y)]
    cache = _cache(tmp_path)
    if damage == "col":  # a node id far beyond N: a kernel would read out of bounds
        _overwrite(os.path.join(cache, "col.npy"), 8, np.array([10**12], np.int64))
    elif damage == "rowptr":  # the row offsets no longer add up
        _overwrite(os.path.join(cache, "rowptr.npy"), 16, np.array([7, 3], np.int64))
    elif damage == "x":  # one feature changed: silently wrong features before
        _overwrite(os.path.join(cache, "x.npy"), 4, np.array([123.0], np.float32))
    elif damage == "empty_npy":
        open(os.path.join(cache, "y.npy"), "wb").close()
    else:
        with open(os.path.join(cache, "meta.json"), "w") as f:
            f.write("{ not json")
    again = load_ogb("ogbn-products", str(tmp_path))
    for a, b in zip(first, (again.graph.rowptr, again.graph.col, again.x, again.y)):
        assert torch.equal(a, b)
    assert verify_cache(cache) == []


def test_big_arrays_are_checked_by_verify(tmp_path, monkeypatch, capsys):
    """Arrays over CHECKSUM_ON_LOAD are checked for shape, dtype and invariants at a
    load; a flipped feature byte there is found by ``glt data verify``."""
    monkeypatch.setattr(glt_cache, "CHECKSUM_ON_LOAD", 0)
    write_ogb(str(tmp_path), "ogbn-products", num_nodes=300, num_edges=2000)
    load_ogb("ogbn-products", str(tmp_path))
    _overwrite(os.path.join(_cache(tmp_path), "x.npy"), 4, np.array([123.0], np.float32))
    assert load_ogb("ogbn-products", str(tmp_path)).x.view(-1)[-1] == 123.0  # not re-hashed
    problems = verify_cache(_cache(tmp_path))
    assert problems == ["x.npy has changed since it was built (SHA-256 mismatch)"]
    assert cli_main(["data", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "glt_processed: x.npy has changed since it was built" in out
    shutil.rmtree(_cache(tmp_path))
    load_ogb("ogbn-products", str(tmp_path))
    assert cli_main(["data", "verify", str(tmp_path)]) == 0
    assert "1 cache(s) and 0 registered file(s) intact" in capsys.readouterr().out
    file = tmp_path / "ogbn_products" / "RELEASE_v1.txt"
    for root, message in ((file, f"{file} is a file; expected a folder"),
                          (tmp_path / "nowhere", f"no such folder: {tmp_path / 'nowhere'}")):
        assert cli_main(["data", "verify", str(root)]) == 2
        assert capsys.readouterr().err == f"glt: error: {message}\n"


def test_killed_build_leftovers_are_removed(tmp_path):
    write_ogb(str(tmp_path), "ogbn-arxiv")
    folder = os.path.join(str(tmp_path), "ogbn_arxiv")
    dead, alive, old = (os.path.join(folder, f"glt_processed.tmp-{k}") for k in "abc")
    for path, owner in ((dead, {"pid": 2**22 + 17, "host": socket.gethostname(), "time": 0}),
                        (alive, {"pid": os.getpid(), "host": socket.gethostname(),
                                 "time": 0})):
        os.makedirs(path)
        with open(os.path.join(path, "owner.json"), "w") as f:
            json.dump(owner, f)
    os.makedirs(old)  # no owner, as a build of an older glt left it; an hour old
    os.utime(old, (0, 0))
    load_ogb("ogbn-arxiv", str(tmp_path))
    left = sorted(f for f in os.listdir(folder) if f.startswith("glt_processed"))
    assert left == ["glt_processed", "glt_processed.tmp-b"]


# ------------------------------------------------------------ the real ogbl-ddi release
@pytest.fixture(scope="module")
def real_ddi(shared_data, tmp_path_factory):
    """glt's load of the shared release and ogb's, on a copy (ogb writes processed/)."""
    root = tmp_path_factory.mktemp("ddi")
    shutil.copytree(os.path.join(shared_data, "ogb", "ogbl_ddi"), root / "ogbl_ddi")
    os.chmod(root / "ogbl_ddi", 0o755)
    os.makedirs(root / "ogbl_ddi" / "processed")  # ogb expects it
    ours = load_ogb("ogbl-ddi", os.path.join(shared_data, "ogb"), download=False,
                    cache_dir=str(root / "glt_cache"))
    from ogb.linkproppred import LinkPropPredDataset
    real_load = torch.load
    torch.load = lambda *a, **k: real_load(*a, **{**k, "weights_only": False})
    try:  # ogb 1.3.6 cannot read its own split files under torch's default since 2.6
        with numpy2_pickle_names():
            theirs = LinkPropPredDataset("ogbl-ddi", root=str(root))
            split = theirs.get_edge_split()
    finally:
        torch.load = real_load
    return ours, theirs[0], split


def test_real_ogbl_ddi_loads_as_ogb_reads_it(real_ddi):
    ours, graph, split = real_ddi
    assert ours.num_nodes == graph["num_nodes"] == 4267
    assert ours.graph.num_edges == 2 * 1_067_911  # both directions, as ogb adds them
    _same_csr(ours.graph, graph["edge_index"], graph["num_nodes"])
    sizes = {s: {k: tuple(v.shape) for k, v in part.items()} for s, part in ours.split.items()}
    assert sizes == {"train": {"edge": (1_067_911, 2)},
                     "valid": {"edge": (133_489, 2), "edge_neg": (101_882, 2)},
                     "test": {"edge": (133_489, 2), "edge_neg": (95_599, 2)}}
    for part in split:
        for key, value in split[part].items():
            assert torch.equal(torch.as_tensor(value), ours.split[part][key])


def test_real_ogbl_ddi_to_and_from_pyg(real_ddi):
    """OGB's ddi example: the PyG loader's Data, its edge_index turned into an
    adj_t by ``T.ToSparseTensor``; both read back to the set glt loads."""
    import torch_geometric.transforms as T
    from torch_geometric.data import Data
    ours, graph, split = real_ddi
    theirs = Data(edge_index=torch.from_numpy(graph["edge_index"]), num_nodes=4267)
    split_edge = {p: {k: torch.from_numpy(v) for k, v in a.items()} for p, a in split.items()}
    back = LinkDataset.from_pyg(theirs, split_edge, "ogbl-ddi")
    _same_csr(back.graph, graph["edge_index"], 4267)
    sparse = LinkDataset.from_pyg(T.ToSparseTensor(layout=torch.sparse_csr)(theirs.clone()),
                                  split_edge, "ogbl-ddi")
    assert torch.equal(sparse.graph.rowptr, ours.graph.rowptr)
    by_row = (ours.graph.row() * 4267 + ours.graph.col).sort().values  # adj_t: sorted rows
    assert torch.equal(sparse.graph.col, by_row % 4267)
    data, pairs = ours.to_pyg()
    assert data.num_nodes == 4267 and torch.equal(data.edge_index, ours.graph.edge_index())
    assert all(torch.equal(pairs[p][k], v) for p in split_edge for k, v in split_edge[p].items())


def test_real_ddi_cache_goes_elsewhere_when_the_release_is_read_only(shared_data, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("GLT_DATA", str(tmp_path))
    release = os.path.join(shared_data, "ogb", "ogbl_ddi")
    before = sorted(os.listdir(release))
    if os.stat(release).st_mode & 0o222:
        pytest.skip("the shared release is writable here")
    data = load_ogb("ogbl-ddi", os.path.join(shared_data, "ogb"), download=False)
    assert data.graph.num_edges == 2_135_822 and sorted(os.listdir(release)) == before
    assert os.listdir(tmp_path / "processed")[0].startswith("ogbl-ddi-")


def test_the_release_folder_itself_can_be_the_root(shared_data, tmp_path):
    release = os.path.join(shared_data, "ogb", "ogbl_ddi")
    ours = load_ogb("ogbl-ddi", release, download=False, cache_dir=str(tmp_path / "a"))
    assert ours.graph.num_edges == 2_135_822
    assert ours.split["test"]["edge_neg"].shape == (95_599, 2)
    # the zip's folder name too; a folder of another name is not taken for the release
    shutil.copytree(release, tmp_path / "ddi")
    assert load_ogb("ogbl-ddi", str(tmp_path / "ddi"), download=False,
                    cache_dir=str(tmp_path / "b")).graph.num_edges == 2_135_822
    os.rename(tmp_path / "ddi", tmp_path / "drugs")
    with pytest.raises(FileNotFoundError, match=r"ogbl-ddi is not in .*drugs.ogbl_ddi"):
        load_ogb("ogbl-ddi", str(tmp_path / "drugs"), download=False)


def _layout(folder: str) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder)
            for f in files if not d.startswith(os.path.join(folder, "mapping"))}


def test_link_fixture_has_the_real_release_format(shared_data, tmp_path):
    """write_ogb's ogbl-ddi is laid out and serialised as the real release."""
    from glt._unpickle import NUMPY, read_torch_file
    real = os.path.join(shared_data, "ogb", "ogbl_ddi")
    fixture = write_ogb(str(tmp_path), "ogbl-ddi")
    assert _layout(fixture) == _layout(real)
    for split in ("train", "valid", "test"):
        paths = [os.path.join(f, "split", "target", f"{split}.pt") for f in (real, fixture)]
        heads = []
        for p in paths:
            with open(p, "rb") as f:
                heads.append(f.read(2))
        assert heads[0] == heads[1] == b"\x80\x02"  # legacy serialisation, not a zip
        a, b = (read_torch_file(p, NUMPY) for p in paths)
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key].dtype, a[key].ndim, a[key].shape[1]) == \
                (b[key].dtype, b[key].ndim, b[key].shape[1]) == (np.int64, 2, 2)
    for name in ("edge", "num-node-list", "num-edge-list"):
        rows = [gzip.open(os.path.join(f, "raw", f"{name}.csv.gz"), "rt").readline().strip()
                for f in (real, fixture)]
        assert [len(r.split(",")) for r in rows][0] == [len(r.split(",")) for r in rows][1]
        assert all(part.isdigit() for r in rows for part in r.split(","))  # no header
