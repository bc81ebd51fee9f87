"""glt's MAT-file reader against scipy.io.loadmat on files scipy writes, and on
damage that crashes scipy's compiled reader."""
import struct
import zlib

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from glt.datasets._matfile import read_mat

RNG = np.random.default_rng(0)
NUMERIC = {"int8": RNG.integers(-5, 5, (3, 4)).astype(np.int8), "double3d": RNG.random((2, 3, 4)),
           "uint64": np.arange(7, dtype=np.uint64), "single": RNG.random(5).astype(np.float32),
           "empty": np.zeros((0, 3)), "int64": np.array([[2 ** 40, -3]]),
           "logical": np.array([[True, False]]), "nan": np.array([np.nan, 1.0])}
SPARSE = {"sparse": sp.random(6, 5, density=0.3, format="csc", random_state=1),
          "no_columns": sp.csc_matrix((4, 0)), "all_zero": sp.csc_matrix((3, 3)),
          "csr_given": sp.random(5, 7, density=0.4, format="csr", random_state=2)}
OTHER = {"text": "hello", "cell": np.array([[1, "x"]], dtype=object), "struct": {"a": 1}}


@pytest.mark.parametrize("compressed", [False, True])
def test_equals_scipy_on_what_scipy_writes(tmp_path, compressed):
    path = str(tmp_path / "all.mat")
    scipy.io.savemat(path, {**NUMERIC, **SPARSE, **OTHER}, do_compression=compressed)
    expected = scipy.io.loadmat(path)
    got = read_mat(path, [*NUMERIC, *SPARSE, "absent"])
    assert sorted(got) == sorted([*NUMERIC, *SPARSE])  # the others skipped unread
    for name in NUMERIC:
        assert got[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(got[name], expected[name])
    for name in SPARSE:
        assert sp.issparse(got[name]) and got[name].format == "csc"
        assert got[name].dtype == expected[name].dtype and got[name].shape == expected[name].shape
        assert (got[name] != expected[name]).nnz == 0, name


@pytest.mark.parametrize("name, message", [
    ("text", "variable 'text' has array class 4; only numeric and sparse matrices are read"),
    ("cell", "variable 'cell' has array class 1"),
    ("struct", "variable 'struct' has array class 2")])
def test_other_classes_are_named_when_asked_for(tmp_path, name, message):
    path = str(tmp_path / "other.mat")
    scipy.io.savemat(path, OTHER)
    with pytest.raises(ValueError, match=f"other.mat: {message}"):
        read_mat(path, [name])


def _sub_elements(data: bytes, variable: str) -> list[tuple[int, int]]:
    """(offset, type) of each sub-element of the uncompressed matrix ``variable``."""
    pos = 128
    while pos < len(data):
        kind, count = struct.unpack_from("<II", data, pos)
        end, sub, found = pos + 8 + count, pos + 8, []
        while sub < end:
            first, size = struct.unpack_from("<II", data, sub)
            found.append((sub, first & 0xFFFF))
            sub += 8 if first >> 16 else 8 + -(-size // 8) * 8
        name_at = found[2][0]
        first, size = struct.unpack_from("<II", data, name_at)
        name = data[name_at + 4:name_at + 4 + (first >> 16)] if first >> 16 else \
            data[name_at + 8:name_at + 8 + size]
        if name.decode() == variable:
            return found
        pos = end
    raise AssertionError(f"no variable {variable}")


def test_a_damaged_type_tag_is_an_error_not_a_crash(tmp_path):
    # scipy 1.17's reader dies with a segmentation fault on this file: the data type
    # of a sparse matrix's column offsets turned from 5 (int32) into 21 (no type)
    path = tmp_path / "damaged.mat"
    scipy.io.savemat(str(path), {"x": np.arange(6.0), "feat": SPARSE["sparse"]})
    data = bytearray(path.read_bytes())
    offset, kind = _sub_elements(bytes(data), "feat")[4]  # flags, dims, name, row ids, offsets
    assert kind == 5
    data[offset] = 21
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged.mat: variable 'feat' \\(column offsets\\) "
                       "has data type 21; the MAT-file is damaged"):
        read_mat(str(path), ["feat"])
    assert read_mat(str(path), ["x"])["x"].shape == (1, 6)  # the rest still reads


@pytest.mark.parametrize("change, message", [
    (lambda d: d[:100], "not a version-5 MAT-file \\(shorter than its header\\)"),
    (lambda d: d[:126] + b"XX" + d[128:], "not a version-5 MAT-file"),
    (lambda d: b"MATLAB 7.3 MAT-file" + d[19:126] + b"XX" + d[128:],
     "not a version-5 MAT-file \\(MAT-file 7.3 is HDF5: not read\\)"),
    (lambda d: d[:-9], "an element at byte 128 claims 96 bytes, 87 are left"),
])
def test_bad_headers_and_truncations(tmp_path, change, message):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(str(path), {"x": np.arange(6.0)})
    path.write_bytes(change(path.read_bytes()))
    with pytest.raises(ValueError, match=f"bad.mat: {message}"):
        read_mat(str(path), ["x"])


def test_sparse_indices_are_checked(tmp_path):
    path = tmp_path / "rows.mat"
    scipy.io.savemat(str(path), {"feat": sp.csc_matrix(np.eye(3))})
    data = bytearray(path.read_bytes())
    offset, _ = _sub_elements(bytes(data), "feat")[3]  # row ids [0, 1, 2] as int32
    struct.pack_into("<i", data, offset + 8 + 4, 9)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="rows.mat: sparse variable 'feat' has row ids outside"):
        read_mat(str(path), ["feat"])


def test_a_damaged_compressed_element_is_named(tmp_path):
    path = tmp_path / "z.mat"
    scipy.io.savemat(str(path), {"x": np.arange(600.0)}, do_compression=True)
    data = bytearray(path.read_bytes())
    data[150] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="z.mat: "):
        read_mat(str(path), ["x"])


def _to_big_endian(data: bytes) -> bytes:
    """A little-endian file of uncompressed numeric matrices in the other byte order."""
    sizes = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
    out = bytearray(data[:126] + b"MI")
    out[124:126] = data[124:126][::-1]  # the version
    pos = 128
    while pos < len(data):
        kind, count = struct.unpack_from("<II", data, pos)
        out += struct.pack(">II", kind, count)
        sub, end = pos + 8, pos + 8 + count
        while sub < end:
            first, size = struct.unpack_from("<II", data, sub)
            small = first >> 16
            kind, size = (first & 0xFFFF, small) if small else (first, size)
            start = sub + (4 if small else 8)
            step = sizes[kind]
            values = data[start:start + size]
            swapped = b"".join(values[i:i + step][::-1] for i in range(0, size, step))
            out += struct.pack(">I", first) if small else struct.pack(">II", kind, size)
            padded = 4 if small else -(-size // 8) * 8
            out += swapped + bytes(padded - size)
            sub = start + padded
        pos = end
    return bytes(out)


def test_a_big_endian_file_reads_the_same(tmp_path):
    path = tmp_path / "little.mat"
    values = {"x": RNG.random((3, 2)), "ids": np.arange(5, dtype=np.int64),
              "flags": np.array([[1, 0, 1]], dtype=np.uint8)}
    scipy.io.savemat(str(path), values)
    big = tmp_path / "big.mat"
    big.write_bytes(_to_big_endian(path.read_bytes()))
    expected = scipy.io.loadmat(str(big))  # scipy reads the converted file too
    got = read_mat(str(big), list(values))
    for name in values:
        np.testing.assert_array_equal(got[name], expected[name])
        np.testing.assert_array_equal(got[name], np.atleast_2d(values[name]))


@pytest.mark.parametrize("change, message", [
    (8, "inflates past the .* bytes it claims"),
    (-8, "inflates to .* bytes, it claims"),
    (-10 ** 9, "of .* bytes claims"),
])
def test_a_compressed_element_inflates_to_exactly_what_it_claims(tmp_path, change, message):
    path = tmp_path / "claims.mat"
    scipy.io.savemat(str(path), {"x": np.arange(600.0)}, do_compression=True)
    data = path.read_bytes()
    kind, count = struct.unpack_from("<II", data, 128)
    assert kind == 15  # miCOMPRESSED
    inner = bytearray(zlib.decompress(data[136:136 + count]))
    struct.pack_into("<I", inner, 4, struct.unpack_from("<I", inner, 4)[0] - change)
    packed = zlib.compress(bytes(inner))
    path.write_bytes(data[:128] + struct.pack("<II", 15, len(packed)) + packed)
    with pytest.raises(ValueError, match=f"claims.mat: a compressed element {message}"):
        read_mat(str(path), ["x"])
