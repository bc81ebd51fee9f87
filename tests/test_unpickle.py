"""The shared safe pickle reader: real files load, crafted payloads of every
kind are refused before anything runs or allocates."""
import os
import pickle
import shutil
import struct
import zipfile
from contextlib import nullcontext

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from glt._unpickle import (CONTAINERS, NUMPY, SCIPY_CSR, TORCH_TENSORS, read_pickle,
                           read_torch_file, records)
from glt.datasets import load_planetoid
from glt.datasets.planetoid import bundled_cora_dir
from tests.oracles import numpy2_pickle_names

PLANETOID = {**NUMPY, **SCIPY_CSR, **CONTAINERS}


def p2(body: bytes) -> bytes:
    """A protocol-2 pickle of the raw opcodes ``body``."""
    return b"\x80\x02" + body + b"."


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s: str) -> bytes:
    return b"X" + struct.pack("<I", len(s)) + s.encode()


def short(s: str) -> bytes:
    return b"\x8c" + bytes([len(s)]) + s.encode()


def refused(data: bytes, match: str = "refusing") -> None:
    with pytest.raises(ValueError, match=match):
        read_pickle(data, PLANETOID, "payload")


# ---------------------------------------------------------------- real files
def test_real_planetoid_files_equal_pickle(shared_data):
    for part in ("x", "tx", "allx", "y", "ty", "ally", "graph"):
        path = os.path.join(shared_data, "planetoid", f"ind.cora.{part}")
        with open(path, "rb") as f:
            data = f.read()
        ours = read_pickle(data, PLANETOID, path)
        with pytest.warns(DeprecationWarning) if part.endswith("x") else nullcontext():
            theirs = pickle.loads(data, encoding="latin1")  # oracle: the real files are trusted
        if sp.issparse(theirs):
            assert sp.issparse(ours) and ours.shape == theirs.shape and (ours != theirs).nnz == 0
        elif isinstance(theirs, dict):
            assert ours == dict(theirs)
        else:
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_real_ogb_legacy_split_files_equal_torch_load(shared_data):
    for split in ("train", "valid", "test"):
        path = os.path.join(shared_data, "ogb", "ogbl_ddi", "split", "target", f"{split}.pt")
        ours = read_torch_file(path, NUMPY)
        with numpy2_pickle_names():
            theirs = torch.load(path, weights_only=False)  # the shared release is trusted
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert ours[key].dtype == np.int64 and np.array_equal(ours[key], theirs[key])


@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_files_with_tensors_and_arrays(tmp_path, zip_format):
    obj = {"view": torch.arange(12).view(3, 4)[:, 1], "w": torch.randn(3, 4),
           "p": torch.nn.Parameter(torch.ones(2)), "a": np.arange(5, dtype=np.int32),
           "empty": torch.zeros(0, 3)}
    path = str(tmp_path / "f.pt")
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    out = read_torch_file(path, {**TORCH_TENSORS, **NUMPY})
    assert isinstance(out["p"], torch.nn.Parameter)
    for key, value in obj.items():
        assert torch.equal(torch.as_tensor(out[key]), torch.as_tensor(value))
        assert torch.as_tensor(out[key]).dtype == torch.as_tensor(value).dtype


# ---------------------------------------------------------------- code execution
def test_function_inside_numpy_is_refused_and_never_runs(tmp_path):
    """The old prefix allowlist ran any function living in the numpy package."""
    target = tmp_path / "written.txt"
    payload = p2(glob("numpy", "savetxt") + b"(" + text(str(target)) + b"]K\x01a" + b"tR")
    refused(payload, "refusing the global numpy.savetxt")
    assert not target.exists()
    raw = tmp_path / "Cora" / "raw"
    shutil.copytree(bundled_cora_dir(), raw)
    (raw / "ind.cora.x").write_bytes(payload)
    with pytest.raises(ValueError, match="ind.cora.x.*refusing the global numpy.savetxt"):
        load_planetoid("cora", root=str(tmp_path), download=False)
    assert not target.exists()


def test_module_prefix_tricks_are_refused():
    refused(p2(glob("numpy.lib.npyio", "savetxt")), "refusing the global numpy.lib.npyio")
    refused(p2(glob("scipy.sparse.linalg", "spsolve")), "refusing the global scipy.sparse.linalg")
    refused(p2(glob("numpyx", "ndarray")), "refusing the global numpyx.ndarray")
    refused(p2(glob("os", "system")), "refusing the global os.system")


def test_protocol_4_dotted_names_are_refused(tmp_path):
    target = tmp_path / "w.txt"
    body = short("numpy") + short("lib.npyio.save") + b"\x93(" + text(str(target)) + b"]K\x01atR"
    refused(b"\x80\x04" + body + b".", "refusing the global numpy.lib.npyio.save")
    assert not target.exists()
    refused(b"\x80\x04" + short("numpy") + short("ndarray.__reduce__") + b"\x93.",
            "ndarray.__reduce__")


def test_allowed_callables_with_hostile_arguments_are_refused():
    reconstruct = glob("numpy.core.multiarray", "_reconstruct")
    ndarray = glob("numpy", "ndarray")
    # a 10^12-element array before any data is given
    refused(p2(reconstruct + ndarray + b"\x8a\x05\x00\x10\xa5\xd4\xe8\x85U\x01b\x87R"),
            "_reconstruct with shape")
    refused(p2(reconstruct + glob("numpy", "dtype") + b"K\x00\x85U\x01b\x87R"),
            "something other than numpy.ndarray")
    refused(p2(glob("numpy", "dtype") + b"U\x02O8\x85R"), "only numeric dtypes")
    refused(p2(glob("_codecs", "encode") + b"U\x01aU\x05utf-7\x86R"),
            "expected \\(str, 'latin1'\\)")
    refused(p2(glob("collections", "defaultdict") + glob("numpy", "dtype") + b"\x85R"),
            "only list factories")
    refused(p2(glob("numpy", "ndarray") + b")R"), "refusing to call numpy.ndarray")


def test_array_state_that_does_not_match_its_bytes_is_refused():
    arr = np.arange(4, dtype=np.int64)
    data = pickle.dumps(arr, protocol=2)
    # claim a [10^6, 10^6] shape for the same 32 bytes: refused before any allocation
    hostile = data.replace(b"K\x04\x85", b"J@B\x0f\x00J@B\x0f\x00\x86", 1)
    assert hostile != data
    refused(hostile, "needs .* bytes, the file holds 32")


def test_build_and_instantiation_opcodes_are_refused():
    refused(p2(b"}" + b"}" + b"b"), "BUILD on dict")
    refused(p2(b"(" + b"ibuiltins\nlist\n"), "instantiates arbitrary objects")
    refused(p2(glob("builtins", "list") + b"(" + b"o"), "instantiates arbitrary objects")
    refused(p2(b"\x82\x01"), "instantiates arbitrary objects")  # EXT1
    refused(p2(b"(X\x01\x00\x00\x00aQ"), "persistent ids")


def test_huge_lengths_and_truncation_are_clear_errors():
    refused(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62), "ends early")
    refused(pickle.dumps(np.arange(10), protocol=2)[:-20], "could not read payload")
    refused(pickle.dumps([1, 2], protocol=2) + b"junk", "bytes follow the pickle")


def test_csr_state_is_checked():
    good = sp.csr_matrix(np.eye(3, dtype=np.float32))
    data = pickle.dumps(good, protocol=2)
    assert (read_pickle(data, PLANETOID, "m") != good).nnz == 0
    bad = sp.csr_matrix(np.eye(3, dtype=np.float32))
    bad.indices[1] = 7  # column beyond the shape
    refused(pickle.dumps(bad, protocol=2), "csr_matrix state")


# ---------------------------------------------------------------- torch files
def _zip_with(tmp_path, data_pkl: bytes, storages: dict[str, bytes]) -> str:
    path = str(tmp_path / "crafted.pt")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return path


def _tensor_pickle(offset: int, size: tuple, stride: tuple, numel: int) -> bytes:
    return pickle.dumps(None, protocol=2)[:2] + (
        glob("torch._utils", "_rebuild_tensor_v2") + b"((" + text("storage")
        + glob("torch", "LongStorage") + text("0") + text("cpu") + pickle.dumps(numel)[2:-1]
        + b"tQ" + pickle.dumps(offset)[2:-1] + pickle.dumps(size)[2:-1]
        + pickle.dumps(stride)[2:-1] + b"\x89" + glob("collections", "OrderedDict")
        + b")RtR.")


def test_crafted_torch_files(tmp_path):
    ok = _zip_with(tmp_path, _tensor_pickle(0, (2,), (1,), 2), {"0": b"\x00" * 16})
    assert torch.equal(read_torch_file(ok, TORCH_TENSORS), torch.zeros(2, dtype=torch.long))
    for pkl, storages, match in [
        (_tensor_pickle(0, (4,), (1,), 2), {"0": b"\x00" * 16}, "beyond its storage"),
        (_tensor_pickle(1, (2,), (1,), 2), {"0": b"\x00" * 16}, "beyond its storage"),
        (_tensor_pickle(0, (2,), (1,), 2), {"0": b"\x00" * 8}, "holds 8 bytes"),
        (_tensor_pickle(0, (2,), (1,), 2), {}, "missing"),
        (pickle.dumps(print, protocol=2), {}, "refusing the global __builtin__.print"),
    ]:
        path = _zip_with(tmp_path, pkl, storages)
        with pytest.raises(ValueError, match=f"could not read .*crafted.pt.*{match}"):
            read_torch_file(path, TORCH_TENSORS)


def test_legacy_torch_file_damage(tmp_path):
    path = str(tmp_path / "legacy.pt")
    torch.save({"w": torch.arange(6)}, path, _use_new_zipfile_serialization=False)
    data = open(path, "rb").read()
    for damaged, match in [(data[:-8], "size or bytes"), (data + b"x", "follow the last storage"),
                           (b"\x80\x02K\x07." + data[15:], "not a torch file")]:
        with open(path, "wb") as f:
            f.write(damaged)
        with pytest.raises(ValueError, match=match):
            read_torch_file(path, TORCH_TENSORS)


def test_records_hold_state_of_allowed_classes_only():
    class Thing:
        pass

    Thing.__module__, Thing.__qualname__ = "pkg", "Thing"
    import sys
    import types
    sys.modules["pkg"] = types.ModuleType("pkg")
    sys.modules["pkg"].Thing = Thing
    try:
        t = Thing()
        t.size = 3
        data = pickle.dumps(t, protocol=2)
    finally:
        del sys.modules["pkg"]
    out = read_pickle(data, {**records("pkg.Thing"), **SCIPY_CSR}, "thing")
    assert out.cls == "pkg.Thing" and out.state == {"size": 3}
    with pytest.raises(ValueError, match="refusing the global pkg.Thing"):
        read_pickle(data, SCIPY_CSR, "thing")


def test_compressed_members_are_refused_before_they_expand(tmp_path):
    """A member that inflates far beyond the file (a zip bomb) is never read."""
    path = str(tmp_path / "bomb.pt")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", _tensor_pickle(0, (2,), (1,), 1 << 24))
        z.writestr("archive/data/0", b"\x00" * (1 << 27))  # 128 MiB of zeros, 130 kB on disk
    assert os.path.getsize(path) < 1 << 20
    with pytest.raises(ValueError, match="compressed members"):
        read_torch_file(path, TORCH_TENSORS)


class _RunsCode:
    """A pickled object whose loading would create ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _read_checkpoint(path: str) -> None:
    from glt.train.checkpoint import load_checkpoint
    model = torch.nn.Linear(2, 2)
    load_checkpoint(path, {}, model, torch.optim.Adam(model.parameters()), torch.Generator())


def _read_generator(path: str) -> None:
    from glt.models.lagnn import CVAE
    CVAE.load(path)


def _read_pos_enc(path: str) -> None:
    from glt.recipes.largegt import load_pos_enc
    load_pos_enc(path, 4)


@pytest.mark.parametrize("read, what", [(_read_checkpoint, "checkpoint"),
                                        (_read_generator, "generator file"),
                                        (_read_pos_enc, "positional encoding file")])
def test_torch_files_with_code_or_damage_are_refused_in_one_line(tmp_path, read, what):
    path, marker = str(tmp_path / "file.pt"), tmp_path / "ran"
    torch.save({"state": _RunsCode(str(marker))}, path)
    with pytest.raises(ValueError) as refused:
        read(path)
    message = str(refused.value)
    assert message.startswith(f"{what} {path} is damaged or holds objects other than tensors")
    assert "weights_only" not in message and "\n" not in message
    assert not marker.exists()
    with open(path, "w") as f:
        f.write("hello")
    with pytest.raises(ValueError, match=rf"^{what} .*file.pt is not a file saved by torch "
                       r"\(it starts with b'he'\)"):
        read(path)
    open(path, "w").close()
    with pytest.raises(ValueError, match=r"file.pt is not a file saved by torch \(it is empty"):
        read(path)
    torch.save({"w": torch.ones(2)}, path)
    with open(path, "r+b") as f:  # a torch file cut short
        f.truncate(os.path.getsize(path) // 2)
    # torch's first sentence, whole
    with pytest.raises(ValueError, match=rf"^{what} .*file.pt is unreadable, damaged or cut "
                       r"short \(\w+: [^.]+\)"):
        read(path)


def test_npy_positional_encodings_with_objects_or_damage_are_refused(tmp_path):
    from glt.recipes.largegt import load_pos_enc
    path = str(tmp_path / "pos.npy")
    np.save(path, np.array([_RunsCode(str(tmp_path / "ran"))], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError) as refused:
        load_pos_enc(path, 1)
    assert str(refused.value) == (f"positional encoding file {path} is not a numeric .npy "
                                  "array (a damaged file, or pickled objects, which glt never "
                                  "loads)")
    assert "allow_pickle" not in str(refused.value) and not (tmp_path / "ran").exists()
    with open(path, "w") as f:
        f.write("hello")
    with pytest.raises(ValueError, match="is not a numeric .npy array"):
        load_pos_enc(path, 1)
    np.save(path, np.ones((1, 3), np.float32))  # its header's "{" damaged: NumPy's header
    with open(path, "r+b") as f:                 # filter raises tokenize.TokenError
        f.seek(10)
        assert f.read(1) == b"{"
        f.seek(10)
        f.write(b"z")
    with pytest.raises(ValueError, match="is not a numeric .npy array"):
        load_pos_enc(path, 1)
    np.save(path, np.ones((1, 3), np.float64))
    assert load_pos_enc(path, 1).dtype == torch.float32
    np.save(path, np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="should hold finite real values, got NaN or infinity"):
        load_pos_enc(path, 1)
    np.save(path, np.ones((1, 2), np.complex64))
    with pytest.raises(ValueError, match="got complex numbers"):
        load_pos_enc(path, 1)


def test_a_generator_file_of_another_layout_is_named(tmp_path):
    from glt.models.lagnn import CVAE
    path = str(tmp_path / "g.pt")
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not a generator saved by glt"):
        CVAE.load(path)
    torch.save({"config": {"num_features": 4, "colour": 1}, "state": {}}, path)
    with pytest.raises(ValueError, match="has settings glt's CVAE does not take"):
        CVAE.load(path)


def test_a_deprecated_dtype_alias_is_refused_without_numpys_notice():
    import warnings

    from glt._unpickle import UnsafePickleError, _dtype
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnsafePickleError, match=r"numpy.dtype\('a'\): only numeric"):
            _dtype("a")
