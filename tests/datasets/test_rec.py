import os
import shutil
import warnings

import numpy as np
import pytest
import torch

import glt.datasets._download as glt_download
import glt.datasets.rec as rec
from glt.datasets.rec import load_rec, read_interactions, read_rec_dir
from glt.datasets.testing import write_lightgcn

# counts from ../shared/data/README.md
COUNTS = {"gowalla": (29_858, 40_981, 810_128, 217_242),
          "ml-1m": (6_022, 3_043, 796_244, 99_455)}


def _python_reference(path: str) -> list[tuple[int, int]]:
    """(user, item) pairs the way LightGCN's loader reads a file."""
    pairs = []
    with open(path) as f:
        for line in f:
            tokens = line.split()
            pairs.extend((int(tokens[0]), int(i)) for i in tokens[1:])
    return pairs


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_real_sets_match_published_counts(shared_data, name, caplog):
    data = load_rec(name, root=os.path.join(shared_data, "rec"), download=False)
    assert "too" not in caplog.text and "dropped" not in caplog.text  # no pair in both files
    users, items, train, test = COUNTS[name]
    assert (data.num_users, data.num_items) == (users, items)
    assert (data.train.num_edges, data.test.num_edges) == (train, test)
    assert data.info is not None and data.info.metric == "recall@20"
    # same pairs as a line-by-line Python parse
    ref = np.array(_python_reference(os.path.join(shared_data, "rec", name, "test.txt")))
    got = torch.stack([data.test.row(), data.test.col]).T.numpy()
    assert np.array_equal(np.unique(ref, axis=0), np.unique(got, axis=0))


def test_the_sets_own_folder_can_be_the_root(shared_data, tmp_path):
    own = os.path.join(shared_data, "rec", "ml-1m")
    data = load_rec("ml-1m", root=own, download=False)
    assert (data.num_users, data.num_items, data.train.num_edges) == COUNTS["ml-1m"][:3]
    with pytest.raises(FileNotFoundError, match=r"missing .*ml-1m.gowalla.train.txt"):
        load_rec("gowalla", root=own, download=False)  # another set's folder is not taken


def test_fixture_round_trip_and_degrees(tmp_path):
    write_lightgcn(str(tmp_path), num_users=12, num_items=20, per_user=6, seed=1)
    data = load_rec(str(tmp_path))
    assert data.name == os.path.basename(str(tmp_path))
    assert (data.num_users, data.num_items) == (12, 20)
    assert data.train.num_edges == 12 * 4 and data.test.num_edges == 12 * 2
    train_pairs = set(_python_reference(str(tmp_path / "train.txt")))
    assert set(map(tuple, data.train_edges.T.tolist())) == train_pairs
    assert torch.equal(data.user_degree, torch.full((12,), 4))
    item_degree = np.bincount([i for _, i in train_pairs], minlength=20)
    assert np.array_equal(data.item_degree.numpy(), item_degree)


def test_lines_without_items_are_kept_out_of_test_users(tmp_path):
    write_lightgcn(str(tmp_path), num_users=10, empty_test_users=(2, 7))
    data = load_rec(str(tmp_path))
    assert data.num_users == 10
    assert sorted(set(range(10)) - set(data.test_users.tolist())) == [2, 7]


def test_bipartite_graph_is_symmetric_lightgcn_adjacency(tmp_path):
    write_lightgcn(str(tmp_path), num_users=5, num_items=7, per_user=3)
    data = load_rec(str(tmp_path))
    dense = torch.zeros(12, 12)
    g = data.bipartite()
    dense[g.row(), g.col] = 1
    r = torch.zeros(5, 7)
    r[data.train.row(), data.train.col] = 1
    expected = torch.zeros(12, 12)
    expected[:5, 5:], expected[5:, :5] = r, r.T
    assert torch.equal(dense, expected)


@pytest.mark.parametrize("line, message", [
    ("0 1 2 x\n", "line 2: unexpected character 'x'"),
    ("0 -3\n", "line 2: unexpected character '-'"),
    ("0 1,2\n", "line 2: unexpected character ','"),
    ("0 99999999999999\n", "line 2: a number too large"),
])
def test_bad_lines_are_reported(tmp_path, line, message):
    path = tmp_path / "train.txt"
    path.write_text("1 2 3\n" + line)
    with pytest.raises(ValueError, match=message):
        read_interactions(str(path))


def test_byte_order_mark_is_skipped_and_utf16_refused(shared_data, tmp_path):
    real = os.path.join(shared_data, "rec", "ml-1m", "test.txt")
    with open(real, "rb") as f:
        text = f.read()
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text)
    for ours, theirs in zip(read_interactions(str(tmp_path / "bom.txt")),
                            read_interactions(real)):
        np.testing.assert_array_equal(ours, theirs)
    (tmp_path / "utf16.txt").write_bytes(text[:1000].decode().encode("utf-16"))
    with pytest.raises(ValueError, match="utf16.txt is UTF-16 text; save it as ASCII or UTF-8"):
        read_interactions(str(tmp_path / "utf16.txt"))
    (tmp_path / "latin.txt").write_bytes(b"0 1\n1 2\xe9\n")
    with pytest.raises(ValueError, match="line 2: a non-ASCII byte 0xe9"):
        read_interactions(str(tmp_path / "latin.txt"))


def test_repeated_pairs_are_dropped_with_a_warning(tmp_path, caplog):
    (tmp_path / "train.txt").write_text("0 1 1 2\n1 0\n")
    (tmp_path / "test.txt").write_text("0 3\n1 2\n")
    data = load_rec(str(tmp_path))
    assert data.train.num_edges == 3
    assert "1 repeated (user, item) pairs dropped" in caplog.text


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        load_rec("gowalla", root=str(tmp_path), download=False)
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "train.txt").write_text("0 1\n")
    with pytest.raises(FileNotFoundError, match="test.txt"):
        load_rec(str(tmp_path / "own"))


def test_files_other_than_the_registered_release_are_warned(shared_data, tmp_path):
    """A copy of the real files loads silently; a test.txt one user short (a set
    cut by hand, or another release) is named: its figures are not the paper's."""
    folder = tmp_path / "ml-1m"
    shutil.copytree(os.path.join(shared_data, "rec", "ml-1m"), folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_rec("ml-1m", root=str(tmp_path), download=False)
    lines = (folder / "test.txt").read_text().splitlines(keepends=True)
    (folder / "test.txt").write_text("".join(lines[:-1]))
    with pytest.warns(UserWarning, match=f"{folder / 'test.txt'} is not ml-1m's registered "
                      r"file \(\d+ bytes, SHA-256 [0-9a-f]{64}, where the registered one has "
                      r"488643 bytes, SHA-256 7ca364f7[0-9a-f]{56}\): figures "
                      "on it are not comparable with the published ones"):
        load_rec("ml-1m", root=str(tmp_path), download=False)


def test_download_fetches_from_the_authors_repository(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_lightgcn(str(src), num_users=4, num_items=9)
    fetched = []

    def fake_download(url, path, expected=None):
        fetched.append(url)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.path.join(str(src), os.path.basename(url))) as f, open(path, "w") as out:
            out.write(f.read())
        return path
    monkeypatch.setattr(glt_download, "download_url", fake_download)
    data = load_rec("yelp2018", root=str(tmp_path / "root"))
    base = "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/master/data/yelp2018"
    assert fetched == [f"{base}/train.txt", f"{base}/test.txt"]
    assert data.num_users == 4


def test_unknown_name():
    with pytest.raises(ValueError, match="expected one of: amazon-book, gowalla, gowalla-slice, "
                                         "ml-1m, yelp2018"):
        load_rec("netflix")


def test_ids_beyond_the_pair_key_range_are_refused(tmp_path):
    """user * num_items + item wrapped around int64 and relabelled a pair before."""
    (tmp_path / "train.txt").write_text(f"{2**33} 1\n0 {2**31}\n")
    (tmp_path / "test.txt").write_text("0 2\n")
    with pytest.raises(ValueError, match="beyond what glt can key as pairs"):
        read_rec_dir(str(tmp_path))


def test_empty_training_file_is_refused(tmp_path):
    (tmp_path / "train.txt").write_text("")
    (tmp_path / "test.txt").write_text("0 1 2\n")
    with pytest.raises(ValueError, match="train.txt holds no interaction: nothing to train on"):
        read_rec_dir(str(tmp_path))
    (tmp_path / "train.txt").write_text("0\n1\n")  # users with no item at all
    with pytest.raises(ValueError, match="holds no interaction"):
        read_rec_dir(str(tmp_path))


def test_empty_test_file_is_refused(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n")
    (tmp_path / "test.txt").write_text("\n")
    with pytest.raises(ValueError, match="test.txt holds no interaction: nothing to evaluate"):
        read_rec_dir(str(tmp_path))


def test_test_pairs_also_in_train_are_named(tmp_path, caplog):
    (tmp_path / "train.txt").write_text("0 1 2\n1 0\n")
    (tmp_path / "test.txt").write_text("0 2 3\n1 1\n")
    read_rec_dir(str(tmp_path))
    train = os.path.join(str(tmp_path), "train.txt")
    assert f"test.txt: 1 of its 3 pairs are in {train} too" in caplog.text


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder: .*nowhere"):
        load_rec(str(tmp_path / "nowhere"))


def test_sparse_ids_are_refused_before_any_table_is_sized(tmp_path):
    """Raw ids (hashes, unfiltered catalogue numbers) would size every model's tables
    by the largest id: ``1e12`` items is a 256 TB embedding table."""
    (tmp_path / "train.txt").write_text("0 1 2\n1 999999999999\n")
    (tmp_path / "test.txt").write_text("0 1\n")
    with pytest.raises(ValueError, match=r"item ids go up to 999999999999 but only 3 distinct"):
        read_rec_dir(str(tmp_path))
    (tmp_path / "train.txt").write_text("0 1\n5000000 2\n")
    with pytest.raises(ValueError, match=r"user ids go up to 5000000 but only 2 distinct .* "
                                         r"re-index them"):
        read_rec_dir(str(tmp_path))
    # a dense range above the threshold loads: every id occurs
    many = 1 << 20 | 7
    (tmp_path / "train.txt").write_text("0 " + " ".join(map(str, range(many))) + "\n")
    assert read_rec_dir(str(tmp_path)).num_items == many


def test_a_file_of_pairs_reads_as_its_lightgcn_lines(shared_data, tmp_path):
    """The real ml-1m test split written as shuffled ``user item`` lines (an edge list)
    reads as the same interactions."""
    real = os.path.join(shared_data, "rec", "ml-1m", "test.txt")
    pairs = _python_reference(real)
    order = np.random.default_rng(0).permutation(len(pairs))
    (tmp_path / "pairs.txt").write_text("".join(f"{pairs[i][0]}\t{pairs[i][1]}\n"
                                                for i in order))
    users, items, top = read_interactions(str(tmp_path / "pairs.txt"))
    assert sorted(zip(users.tolist(), items.tolist())) == sorted(pairs)
    assert top == read_interactions(real)[2]


@pytest.mark.parametrize("columns", [3, 4])
def test_a_ratings_table_is_not_read_as_items(tmp_path, columns):
    """MovieLens' ``u.data`` (user, item, rating, timestamp; tab-separated): read as the
    LightGCN format its ratings and times would become items."""
    rows = [(1, 10, 3, 881250949), (1, 12, 5, 891717742), (2, 10, 1, 878887116),
            (3, 11, 4, 880606923), (2, 13, 2, 886397596)]
    (tmp_path / "u.data").write_text("".join("\t".join(map(str, r[:columns])) + "\n"
                                             for r in rows))
    with pytest.raises(ValueError, match=rf"user 1 has 2 lines and every line holds {columns} "
                                         r"numbers: this looks like one interaction per line"):
        read_interactions(str(tmp_path / "u.data"))


def _edge_index(pairs: list[tuple[int, int]]) -> torch.Tensor:
    return torch.tensor(pairs, dtype=torch.long).t()


def test_from_edge_index_equals_the_real_files(shared_data, caplog):
    """The real ml-1m split's pairs, read by a plain Python reader, shuffled and with a
    repeat, make the set that ``load_rec`` reads from the folder."""
    folder = os.path.join(shared_data, "rec", "ml-1m")
    train, test = (_python_reference(os.path.join(folder, f)) for f in ("train.txt", "test.txt"))
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    shuffled = _edge_index(train)[:, order]
    data = rec.RecDataset.from_edge_index(torch.cat([shuffled, shuffled[:, :5]], 1),
                                          _edge_index(test).int(), name="ml-1m")
    assert "ml-1m: train: 5 repeated (user, item) pairs dropped" in caplog.text
    real = load_rec(folder)
    assert (data.num_users, data.num_items) == (real.num_users, real.num_items)
    for ours, theirs in ((data.train, real.train), (data.test, real.test)):
        assert torch.equal(ours.rowptr, theirs.rowptr)
        assert torch.equal(*(torch.sort(g.row() * g.num_cols + g.col).values
                             for g in (ours, theirs)))
    # in the files' order, a repeat dropped keeps each user's items in that order
    again = rec.RecDataset.from_edge_index(torch.cat([_edge_index(train), shuffled[:, :3]], 1),
                                           _edge_index(test))
    assert torch.equal(again.train.col, real.train.col)


def test_from_edge_index_sizes_and_checks():
    train, test = torch.tensor([[0, 1, 1], [2, 0, 1]]), torch.tensor([[0, 3], [0, 2]])
    data = rec.RecDataset.from_edge_index(train, test, num_items=5)
    assert (data.num_users, data.num_items) == (4, 5)
    assert data.test_users.tolist() == [0, 3]
    with pytest.raises(ValueError, match=r"expected train to be \(user, item\) pairs of shape "
                                         r"\[2, nnz\], got \(3, 2\) \(one pair per row: pass it "
                                         r"transposed, .t\(\)\)"):
        rec.RecDataset.from_edge_index(train.t(), test)
    with pytest.raises(ValueError, match=r"expected test\[0\] \(user ids\) to be an integer"):
        rec.RecDataset.from_edge_index(train, test.double())
    with pytest.raises(ValueError, match=r"expected train\[0\] \(user ids\) to hold ids below 1"):
        rec.RecDataset.from_edge_index(train, test, num_users=1)
    with pytest.raises(ValueError, match="non-negative"):
        rec.RecDataset.from_edge_index(train, -test)
    with pytest.raises(ValueError, match="interactions: test holds no interaction: nothing to "
                                         "evaluate"):
        rec.RecDataset.from_edge_index(train, test[:, :0])


def test_a_dataset_whose_splits_disagree_with_its_sizes_is_refused():
    data = rec.RecDataset.from_edge_index(torch.tensor([[0, 1], [1, 2]]),
                                          torch.tensor([[1], [0]]))
    with pytest.raises(ValueError, match=r"mine: expected test to be a CSRGraph of shape "
                                         r"\(2, 4\) \(users, items\), got \(2, 3\)"):
        rec.RecDataset("mine", 2, 4, data.train.__class__.from_edge_index(
            torch.tensor([[0], [3]]), 2, num_cols=4), data.test)


def test_from_pyg_reads_pygs_reader_of_the_real_gowalla_files(shared_data, tmp_path):
    """PyG's ``AmazonBook`` class reads LightGCN-PyTorch's files (its four raw files are
    those of every LightGCN set); given the real gowalla ones, its ``HeteroData`` makes
    the set ``load_rec`` reads from the folder."""
    datasets = pytest.importorskip("torch_geometric.datasets")
    folder = os.path.join(shared_data, "rec", "gowalla")
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in ("user_list.txt", "item_list.txt", "train.txt", "test.txt"):
        os.symlink(os.path.join(folder, f), raw / f)
    hetero = datasets.AmazonBook(str(tmp_path))[0]
    data = rec.RecDataset.from_pyg(hetero, name="gowalla")
    real = load_rec(folder)
    # and back: to_pyg is AmazonBook's HeteroData, tensor for tensor
    ours = real.to_pyg(item_type="book")
    assert ours.node_types == hetero.node_types and ours.edge_types == hetero.edge_types
    for node_type in hetero.node_types:
        assert ours[node_type].num_nodes == hetero[node_type].num_nodes
    for edge_type in hetero.edge_types:
        assert sorted(ours[edge_type].keys()) == sorted(hetero[edge_type].keys())
        for key in hetero[edge_type].keys():
            assert torch.equal(ours[edge_type][key], hetero[edge_type][key]), (edge_type, key)
    assert (data.num_users, data.num_items) == (real.num_users, real.num_items)
    for ours, theirs in ((data.train, real.train), (data.test, real.test)):
        assert torch.equal(ours.rowptr, theirs.rowptr) and torch.equal(ours.col, theirs.col)
    # RandomLinkSplit's layout: negatives among the test pairs, labelled 0
    store = hetero["user", "rates", "book"]
    test = store.edge_label_index
    store.edge_label_index = torch.cat([test, torch.stack([test[0], test[1].flip(0)])], 1)
    store.edge_label = torch.cat([torch.ones(test.size(1)), torch.zeros(test.size(1))])
    assert torch.equal(rec.RecDataset.from_pyg(hetero).test.col, real.test.col)
    del store.edge_label_index
    with pytest.raises(ValueError, match="pyg: expected one edge type with an edge_label_index"):
        rec.RecDataset.from_pyg(hetero)


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_windows_and_classic_mac_line_endings(shared_data, tmp_path, ending):
    """The real ml-1m test file with CR LF (Windows) or CR alone (classic Mac OS) line
    endings reads as the file itself; a lone CR is not taken for a space."""
    real = os.path.join(shared_data, "rec", "ml-1m", "test.txt")
    with open(real) as f:
        text = f.read()
    (tmp_path / "test.txt").write_bytes(text.replace("\n", ending).encode())
    for ours, theirs in zip(read_interactions(str(tmp_path / "test.txt")),
                            read_interactions(real)):
        np.testing.assert_array_equal(ours, theirs)


def test_to_pyg_reads_back():
    data = load_rec("gowalla-slice")
    hetero = data.to_pyg()
    assert hetero.node_types == ["user", "item"]
    back = rec.RecDataset.from_pyg(hetero, name="slice")
    assert (back.num_users, back.num_items) == (data.num_users, data.num_items)
    for ours, theirs in ((back.train, data.train), (back.test, data.test)):
        assert torch.equal(ours.rowptr, theirs.rowptr) and torch.equal(ours.col, theirs.col)
