"""The bundled gowalla slice: cut again from the real files, loadable by name."""
import os

from glt.datasets import load_rec
from glt.datasets.rec_slice import bundled_dir, cut_slice


def test_bundled_slice_is_the_documented_cut_of_the_real_files(shared_data):
    cut = cut_slice(os.path.join(shared_data, "rec", "gowalla"))
    for name, text in cut.items():
        with open(os.path.join(bundled_dir(), name)) as f:
            assert f.read() == text, name


def test_bundled_slice_loads_by_name_with_its_counts():
    data = load_rec("gowalla-slice")
    assert (data.num_users, data.num_items, data.train.num_edges, data.test.num_edges) == (
        2000, 2832, 41_797, 9_338)
    assert data.test_users.numel() == 1597
    items_per_user = data.item_degree
    assert int(items_per_user.min()) >= 8  # every kept item: at least 8 training users
    size = sum(os.path.getsize(os.path.join(bundled_dir(), f))
               for f in ("train.txt", "test.txt"))
    assert size < 300_000
