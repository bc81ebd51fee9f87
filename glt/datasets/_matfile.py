"""A reader of MATLAB MAT-files, version 5, for numeric and sparse matrices, in
NumPy: every tag, size, type and index is checked before it is used, so a
damaged or crafted file gets a ``ValueError`` naming it (``scipy.io.loadmat``'s
compiled reader crashes the process on some damaged files).

Layout (MathWorks, "MAT-File Format"): a 128-byte header ending in the version
``0x0100`` and the byte-order mark ``IM`` / ``MI``, then data elements, each an
8-byte tag (type, byte count; a "small" element packs both in 4 bytes and its
data in the other 4) and its data. A matrix element (``miMATRIX``) holds
sub-elements padded to 8 bytes: array flags (class), dimensions, name, then the
real values (column-major) or, for a sparse matrix, row indices, column offsets
and values. ``miCOMPRESSED`` holds one element compressed with zlib.
"""
from __future__ import annotations

import math
import os
import zlib
from typing import Any, Iterable, Optional, Union

import numpy as np
import scipy.sparse

# data types of tags -> NumPy codes
_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
          13: "u8"}
_MATRIX, _COMPRESSED = 14, 15
_INT8, _INT32, _UINT32 = 1, 5, 6
# array classes -> NumPy codes; 5 is sparse
_CLASSES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4",
            14: "i8", 15: "u8"}
_SPARSE = 5
_COMPLEX = 0x800
_NAME_PREFIX = 4096  # decompressed bytes enough for a matrix's flags, dimensions and name
_MAX_RATIO = 1032  # deflate's largest expansion
_CHUNK = 1 << 22  # compressed bytes inflated at a time

Value = Union[np.ndarray, scipy.sparse.csc_matrix]


class _Reader:
    """Elements of one buffer in one byte order, errors naming ``path``; the arrays
    it returns are copies (``copy``) or, where the buffer is theirs alone (an
    inflated element), may be views of it."""

    def __init__(self, buf: Any, order: str, path: str, copy: bool = True) -> None:
        self.buf, self.order, self.path, self.copy = buf, order, path, copy

    def fail(self, what: str, damaged: bool = True) -> ValueError:
        return ValueError(f"{self.path}: {what}" + ("; the MAT-file is damaged or not a "
                                                    "version-5 MAT-file" if damaged else ""))

    def tag(self, pos: int, end: int) -> tuple[int, int, int, int]:
        """``(type, byte count, data start, next element)`` of the element at ``pos``,
        sub-elements padded to 8 bytes."""
        if pos + 8 > end:
            raise self.fail(f"an element tag at byte {pos} runs past its end ({end})")
        first, second = (int(v) for v in np.frombuffer(self.buf, self.order + "u4", 2, pos))
        if first >> 16:  # small element: type and count in 4 bytes, data in the next 4
            kind, count = first & 0xFFFF, first >> 16
            if count > 4:
                raise self.fail(f"a small element at byte {pos} claims {count} bytes")
            return kind, count, pos + 4, pos + 8
        start = pos + 8
        if second > end - start:
            raise self.fail(f"an element at byte {pos} claims {second} bytes, {end - start} "
                            "are left")
        return first, second, start, start + -(-second // 8) * 8

    def values(self, pos: int, end: int, what: str, kinds: Iterable[int] = _TYPES
               ) -> tuple[np.ndarray, int]:
        """A numeric sub-element's values ``[n]``, a read-only view of the buffer in
        the file's byte order (callers copy what they keep), and the next
        sub-element's position."""
        kind, count, start, after = self.tag(pos, end)
        if kind not in kinds or kind not in _TYPES:
            raise self.fail(f"{what} has data type {kind}")
        dtype = np.dtype(self.order + _TYPES[kind])
        if count % dtype.itemsize:
            raise self.fail(f"{what} has {count} bytes, not a whole number of {dtype} values")
        return np.frombuffer(self.buf, dtype, count // dtype.itemsize, start), min(after, end)

    def header(self, pos: int, end: int) -> tuple[int, int, list[int], str, int]:
        """A matrix's ``(class, flags, dims, name, position of its values)``."""
        flags, pos = self.values(pos, end, "array flags", [_UINT32])
        if flags.size != 2:
            raise self.fail(f"array flags hold {flags.size} values, expected 2")
        dims, pos = self.values(pos, end, "dimensions", [_INT32])
        if dims.size < 2 or (dims < 0).any():
            raise self.fail(f"dimensions {dims.tolist()}")
        name, pos = self.values(pos, end, "array name", [_INT8])
        try:
            text = name.tobytes().decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("an array name is not ASCII") from None
        return int(flags[0]) & 0xFF, int(flags[0]), [int(d) for d in dims], text, pos

    def matrix(self, pos: int, end: int) -> Value:
        """The value of the matrix whose sub-elements span ``[pos, end)``."""
        cls, flags, dims, name, pos = self.header(pos, end)
        what = f"variable {name!r}"
        if flags & _COMPLEX:
            raise self.fail(f"{what} is complex; only real matrices are read", False)
        if cls == _SPARSE:
            return self.sparse(pos, end, dims, what)
        if cls not in _CLASSES:
            raise self.fail(f"{what} has array class {cls}; only numeric and sparse "
                            "matrices are read", False)
        size = math.prod(dims)  # exact: no wrap-around for crafted dimensions
        if size == 0:
            return np.zeros(dims, _CLASSES[cls])
        real, _ = self.values(pos, end, f"{what} (values)")
        if real.size != size:
            raise self.fail(f"{what} holds {real.size} values for dimensions {dims}")
        out = real.astype(_CLASSES[cls], copy=self.copy)  # native byte order
        if out.dtype.kind in "iu" and not np.array_equal(out, real):  # stored wider
            raise self.fail(f"{what} holds values outside its class {out.dtype}")
        return out.reshape(dims, order="F")

    def sparse(self, pos: int, end: int, dims: list[int], what: str) -> scipy.sparse.csc_matrix:
        if len(dims) != 2:
            raise self.fail(f"sparse {what} has dimensions {dims}")
        rows, cols = dims
        ids, pos = self.values(pos, end, f"{what} (row ids)")
        ptr, pos = self.values(pos, end, f"{what} (column offsets)")
        data, _ = self.values(pos, end, f"{what} (values)")
        for part, array in (("row ids", ids), ("column offsets", ptr)):
            if array.dtype.kind not in "iu":
                raise self.fail(f"{what} ({part}) are {array.dtype}, not integers")
        ptr = ptr.astype(np.int64, copy=self.copy)
        nnz = int(ptr[-1]) if ptr.size else -1
        if ptr.size != cols + 1 or ptr[0] != 0 or (np.diff(ptr) < 0).any() or \
                nnz > min(ids.size, data.size):
            raise self.fail(f"sparse {what} has bad column offsets for {cols} columns, "
                            f"{ids.size} row ids and {data.size} values")
        ids = ids[:nnz].astype(np.int64, copy=self.copy)
        if nnz and (ids.min() < 0 or ids.max() >= rows):
            raise self.fail(f"sparse {what} has row ids outside [0, {rows})")
        values = data[:nnz].astype(data.dtype.newbyteorder("="), copy=self.copy)
        return scipy.sparse.csc_matrix((values, ids, ptr), shape=(rows, cols))


def read_mat(path: str, names: Iterable[str]) -> dict[str, Value]:
    """The variables ``names`` found in the MAT-file (version 5) at ``path``:
    numeric matrices as arrays of their class's dtype and shape, sparse ones as
    ``scipy.sparse.csc_matrix``; other variables are skipped unread. Raises
    ``ValueError`` naming the file for anything damaged or unsupported in the
    file's structure or in the variables asked for."""
    wanted, found = set(names), {}
    if os.path.getsize(path) < 128:
        raise ValueError(f"{path}: not a version-5 MAT-file (shorter than its header)")
    # mapped, not read: released when the last view of it goes (also on an error)
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    size, mark = buf.size, bytes(buf[126:128])
    if mark not in (b"IM", b"MI"):
        hint = (" (MAT-file 7.3 is HDF5: not read)" if bytes(buf[:19]) == b"MATLAB 7.3 MAT-file"
                else "")
        raise ValueError(f"{path}: not a version-5 MAT-file{hint}")
    reader = _Reader(buf, "<" if mark == b"IM" else ">", path)
    pos = 128
    while pos < size:
        kind, count, start, _ = reader.tag(pos, size)
        # top-level elements are not padded (a small one fills its 8 bytes)
        pos = start + count if start == pos + 8 else pos + 8
        if kind == _MATRIX:
            name = reader.header(start, pos)[3]
            if name in wanted:
                found[name] = reader.matrix(start, pos)
        elif kind == _COMPRESSED:
            name, value = _compressed(buf[start:pos], reader.order, path, wanted)
            if name is not None:
                found[name] = value
    return found


def _compressed(data: np.ndarray, order: str, path: str, wanted: set[str]
                ) -> tuple[Optional[str], Optional[Value]]:
    """``(name, value)`` of the matrix in a compressed element, ``(None, None)``
    when it is not asked for (only its first bytes are decompressed)."""
    try:
        head = zlib.decompressobj().decompress(data[:_NAME_PREFIX], _NAME_PREFIX)
        if len(head) < 8:
            raise ValueError(f"{path}: a compressed element holds {len(head)} bytes; the "
                             "MAT-file is damaged")
        kind, count = (int(v) for v in np.frombuffer(head, order + "u4", 2))
        if kind != _MATRIX:
            return None, None
        name = _Reader(head, order, path).header(8, len(head))[3]
        if name not in wanted:
            return None, None
        full = _inflate(data, count + 8, path)
    except zlib.error as err:
        raise ValueError(f"{path}: a compressed element does not decompress ({err}); the "
                         "MAT-file is damaged") from None
    reader = _Reader(full, order, path, copy=False)
    kind, count, start, _ = reader.tag(0, len(full))
    return name, reader.matrix(start, start + count)


def _inflate(data: np.ndarray, size: int, path: str) -> np.ndarray:
    """The ``size`` bytes ``[size]`` (uint8) that the deflate stream ``data`` holds,
    inflated chunk by chunk into one array: a stream that claims more than deflate
    can expand to, or gives more or fewer bytes than it claims, is damage."""
    if size > _MAX_RATIO * len(data) + 64:
        raise ValueError(f"{path}: a compressed element of {len(data)} bytes claims {size}; "
                         "the MAT-file is damaged")
    out = np.empty(size, np.uint8)
    inflater, filled = zlib.decompressobj(), 0
    for begin in range(0, len(data), _CHUNK):
        chunk = data[begin:begin + _CHUNK]
        while len(chunk):
            piece = inflater.decompress(chunk, size - filled + 1)  # at most one byte too many
            if filled + len(piece) > size:
                raise ValueError(f"{path}: a compressed element inflates past the {size} "
                                 "bytes it claims; the MAT-file is damaged")
            out[filled:filled + len(piece)] = np.frombuffer(piece, np.uint8)
            filled += len(piece)
            chunk = inflater.unconsumed_tail
    if filled != size:
        raise ValueError(f"{path}: a compressed element inflates to {filled} bytes, it claims "
                         f"{size}; the MAT-file is damaged")
    return out
