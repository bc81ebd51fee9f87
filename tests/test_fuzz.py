"""Damaged files of every on-disk format glt reads: random truncations, bit flips
and insertions end in a correct load or a clear ``ValueError`` naming the file,
never a crash, a hang or a silently changed result where the format can tell.

The default run draws a few dozen cases per format; ``-m slow`` runs the long
version (``GLT_FUZZ_EXAMPLES``, default 500 per format): new random cases at
each run, except under CI (``CI`` set), where its cases are the same at every
run so that a gate fails on a change, not on a draw."""
import os
import shutil

import numpy as np
import pytest
import scipy.io
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glt._unpickle import read_torch_file
from glt.datasets import load_ogb
from glt.datasets._matfile import read_mat
from glt.datasets.linkx import load_snap_patents
from glt.datasets.ogb import _SPLIT_TYPES as OGB_SPLIT
from glt.datasets.planetoid import RAW_FILES, bundled_cora_dir, read_planetoid
from glt.datasets.rec import read_rec_dir
from glt.datasets.testing import write_lightgcn, write_ogb, write_snap_patents
from glt.models.lagnn.cvae import CVAE
from glt.models.lagnn.lagnn_code import read_lagnn_code_generator, write_lagnn_code_generator
from glt.recipes.largegt import load_pos_enc
from glt.train.checkpoint import load_checkpoint, save_checkpoint

FAST = settings(max_examples=int(os.environ.get("GLT_FUZZ_FAST", 15)), deadline=None,
                suppress_health_check=list(HealthCheck), derandomize=True)
SLOW = settings(FAST, max_examples=int(os.environ.get("GLT_FUZZ_EXAMPLES", 500)),
                derandomize=bool(os.environ.get("CI")))


@st.composite
def damage(draw, size: int):
    """``(kind, bytes -> bytes)``: a truncation, a bit flip or an insertion at a
    position drawn below ``size`` (wrapped to the file's length)."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert"]))
    pos = draw(st.integers(0, max(size - 1, 0)))
    bit = draw(st.integers(0, 7))
    extra = draw(st.binary(min_size=1, max_size=16))

    def change(b: bytes) -> bytes:
        at = pos % len(b) if b else 0
        if kind == "truncate":
            return b[:at]
        if kind == "flip":
            return b[:at] + bytes([b[at] ^ (1 << bit)]) + b[at + 1:] if b else b
        return b[:at] + extra + b[at:]
    return kind, change


def _mutate(path: str, change) -> bool:
    """Apply ``change`` to the file; whether its bytes changed."""
    with open(path, "rb") as f:
        before = f.read()
    after = change(before)
    with open(path, "wb") as f:
        f.write(after)
    return after != before


def _clear_or_correct(load, path: str, reference=None, equal=None) -> None:
    """``load()`` either raises a ValueError that names ``path``'s file, or
    returns; when ``reference`` is given, a result must equal it."""
    try:
        result = load()
    except ValueError as err:
        assert os.path.basename(path) in str(err) or os.path.dirname(path) in str(err), err
        return
    if reference is not None:
        assert equal(result, reference), f"{path}: damaged file loaded with another result"


# --------------------------------------------------------------------- formats
def _planetoid_case(tmp_path, name, change):
    raw = tmp_path / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.copytree(bundled_cora_dir(), raw)
    path = str(raw / f"ind.cora.{name}")
    _mutate(path, change)
    _clear_or_correct(lambda: read_planetoid(str(raw), "cora"), path)


def _lightgcn_case(tmp_path, name, change):
    folder = tmp_path / "rec"
    shutil.rmtree(folder, ignore_errors=True)
    write_lightgcn(str(folder), num_users=20, num_items=30)
    path = str(folder / name)
    _mutate(path, change)
    _clear_or_correct(lambda: read_rec_dir(str(folder)), path)


def _ogb_case(tmp_path, dataset, relative, change):
    root = tmp_path / "ogb"
    shutil.rmtree(root, ignore_errors=True)
    folder = write_ogb(str(root), dataset, num_nodes=30, num_edges=80, num_features=3)
    path = os.path.join(folder, relative)
    _mutate(path, change)
    _clear_or_correct(lambda: load_ogb(dataset, str(root), download=False), path)


def _linkx_case(tmp_path, compressed, change):
    root = tmp_path / "linkx"
    shutil.rmtree(root, ignore_errors=True)
    path = str(root / "snap-patents" / "snap_patents.mat")
    write_snap_patents(path, num_nodes=30, num_edges=80, num_features=3)
    if compressed:  # the same variables, each in a zlib element
        values = read_mat(path, ["edge_index", "node_feat", "num_nodes", "years"])
        scipy.io.savemat(path, values, do_compression=True)
    _mutate(path, change)
    _clear_or_correct(lambda: load_snap_patents(str(root), download=False), path)


def _ogb_zip_case(tmp_path, change):
    """An OGB split file in torch's zip format (``torch.save``'s default)."""
    root = tmp_path / "ogb"
    shutil.rmtree(root, ignore_errors=True)
    folder = write_ogb(str(root), "ogbl-ddi", num_nodes=30, num_edges=80)
    path = os.path.join(folder, "split", "target", "valid.pt")
    part = read_torch_file(path, OGB_SPLIT)
    torch.save(part, path)
    _mutate(path, change)
    _clear_or_correct(lambda: load_ogb("ogbl-ddi", str(root), download=False), path)


def _pos_enc_case(tmp_path, suffix, change):
    """A LargeGT positional encoding file, ``.npy`` or ``torch.save``'s ``.pt``."""
    path = str(tmp_path / f"pos{suffix}")
    values = torch.randn(20, 4)
    if suffix == ".npy":
        np.save(path, values.numpy())
    else:
        torch.save(values, path)
    _mutate(path, change)
    _clear_or_correct(lambda: load_pos_enc(path, 20), path)  # neither format has checksums


def _cache_case(tmp_path, name, change):
    """A damaged cache array is rebuilt: the load equals the undamaged one."""
    root = tmp_path / "cache"
    if not root.exists():
        write_ogb(str(root), "ogbn-arxiv", num_nodes=30, num_edges=80, num_features=3)
    ref = load_ogb("ogbn-arxiv", str(root))
    ref = [t.clone() for t in (ref.graph.rowptr, ref.graph.col, ref.x, ref.y, ref.train_mask)]
    path = os.path.join(str(root), "ogbn_arxiv", "glt_processed", name)
    _mutate(path, change)
    data = load_ogb("ogbn-arxiv", str(root))
    got = (data.graph.rowptr, data.graph.col, data.x, data.y, data.train_mask)
    assert all(torch.equal(a, b) for a, b in zip(ref, got)), f"{name}: damage went unnoticed"


def _checkpoint_case(tmp_path, change):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    path = str(tmp_path / "run.pt")
    save_checkpoint(path, {"model": "linear"}, model, opt, torch.Generator(), {"epoch": 3})
    if not _mutate(path, change):
        return
    fresh = torch.nn.Linear(3, 2)
    state = {}

    def load():
        state.update(load_checkpoint(path, {"model": "linear"}, fresh,
                                     torch.optim.Adam(fresh.parameters()), torch.Generator()))
        return fresh

    def same(a, b):
        return state == {"epoch": 3} and all(torch.equal(p, q) for p, q in
                                             zip(a.state_dict().values(),
                                                 b.state_dict().values()))
    _clear_or_correct(load, path, model, same)


def _generator_case(tmp_path, change):
    torch.manual_seed(0)
    cvae = CVAE(6, 4, 2)
    path = str(tmp_path / "cora.pkl")
    write_lagnn_code_generator(cvae, path)
    if not _mutate(path, change):
        return

    def same(a, b):
        return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                     b.state_dict().values()))
    _clear_or_correct(lambda: read_lagnn_code_generator(path), path, cvae, same)


def _csr_npz_case(tmp_path, change):
    from glt.graph import CSRGraph
    graph = CSRGraph.from_edge_index(torch.tensor([[0, 1, 2, 2], [1, 2, 0, 1]]), 3,
                                     edge_weight=torch.tensor([1.0, 2.0, 3.0, 4.0]))
    path = str(tmp_path / "g.npz")
    graph.save(path)
    _mutate(path, change)
    _clear_or_correct(lambda: CSRGraph.load(path), path)


CASES = {
    "planetoid": (_planetoid_case, [(p,) for p in RAW_FILES], 260_000),
    "lightgcn": (_lightgcn_case, [("train.txt",), ("test.txt",)], 400),
    "ogb-csv": (_ogb_case, [("ogbn-arxiv", "raw/edge.csv.gz"),
                            ("ogbn-arxiv", "raw/node-feat.csv.gz"),
                            ("ogbn-arxiv", "split/time/train.csv.gz")], 1200),
    "ogb-npz": (_ogb_case, [("ogbn-papers100M", "raw/data.npz"),
                            ("ogbn-papers100M", "raw/node-label.npz")], 1500),
    "ogb-legacy-pt": (_ogb_case, [("ogbl-ddi", "split/target/valid.pt"),
                                  ("ogbl-ddi", "split/target/train.pt"),
                                  ("ogbl-citation2", "split/time/valid.pt")], 500),
    "cache": (_cache_case, [("col.npy",), ("rowptr.npy",), ("x.npy",), ("meta.json",)], 400),
    "checkpoint": (_checkpoint_case, [()], 3000),
    "lagnn-generator": (_generator_case, [()], 3000),
    "csr-npz": (_csr_npz_case, [()], 1200),
    "linkx-mat": (_linkx_case, [(False,), (True,)], 2000),
    "ogb-zip-pt": (_ogb_zip_case, [()], 2500),
    "pos-enc": (_pos_enc_case, [(".npy",), (".pt",)], 1500),
}


def _run(fmt: str, data, tmp_path) -> None:
    case, choices, size = CASES[fmt]
    args = data.draw(st.sampled_from(choices))
    _, change = data.draw(damage(size))
    case(tmp_path, *args, change)


@pytest.mark.parametrize("fmt", sorted(CASES))
@FAST
@given(data=st.data())
def test_damaged_files(fmt, data, tmp_path_factory):
    _run(fmt, data, tmp_path_factory.mktemp(fmt))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(CASES))
@SLOW
@given(data=st.data())
def test_damaged_files_long(fmt, data, tmp_path_factory):
    _run(fmt, data, tmp_path_factory.mktemp(fmt))
