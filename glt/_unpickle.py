"""A pickle reader that builds data and never runs code named by the file.

Every pickle-based format glt reads goes through :func:`read_pickle` or
:func:`read_torch_file`: the Planetoid ``ind.*`` files (NumPy arrays, SciPy CSR
matrices, adjacency dicts), OGB's split files (torch's legacy or zip
serialisation holding NumPy arrays or tensors) and the LA-GNN code's generator
files (a whole pickled module). glt's own files (checkpoints, generators) and
tensor files go through :func:`load_weights`, torch's weights-only loader.

How it stays safe:

- a global is looked up in an exact ``(module, name)`` allowlist and becomes a
  :class:`Global` token, never the object the name stands for: no import, no
  prefix match, no dotted attribute path;
- ``REDUCE``, ``NEWOBJ`` and ``BUILD`` are answered by glt's own constructors
  (below), which check their arguments (shapes against the bytes present,
  numeric dtypes only, storage bounds) before they allocate anything;
- ``INST``, ``OBJ``, the extension registry and any opcode that would call
  a method of an object from the file are refused;
- the whole file is read into memory first, so a length field in the file can
  never make the reader allocate more than the file holds.

Class instances other than arrays, matrices and tensors come back as
:class:`Record` (the class's name and the state the file gave it), for the
caller to interpret.
"""
from __future__ import annotations

import io
import pickle
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

__all__ = ["ARCHIVE_ERRORS", "Global", "Record", "UnsafePickleError", "load_weights",
           "read_pickle", "read_torch_file", "records", "NUMPY", "SCIPY_CSR", "CONTAINERS",
           "TORCH_TENSORS"]


class UnsafePickleError(pickle.UnpicklingError):
    """The file names something glt does not build, or builds it with bad arguments."""


@dataclass(frozen=True)
class Global:
    """An allowlisted global, by the role glt gives it (never the real object)."""

    role: str
    name: str


@dataclass
class Record:
    """An instance of an allowlisted class: its qualified name and the state the
    file gave it (``BUILD``), usually its ``__dict__``."""

    cls: str
    state: Any = None


@dataclass
class _Array:
    """An ``ndarray`` between ``_reconstruct`` and its ``BUILD``."""


@dataclass
class _Dtype:
    """A ``numpy.dtype`` between its constructor and its ``BUILD`` (byte order)."""

    spec: str
    value: Optional[np.dtype] = None


@dataclass
class _Storage:
    """A torch storage named by a persistent id: its dtype, size and bytes."""

    dtype: torch.dtype
    numel: int
    data: Optional[bytes] = field(default=None, repr=False)


# ------------------------------------------------------------------ allowlists
def _roles(role: str, *names: tuple[str, str]) -> dict[tuple[str, str], Global]:
    return {(m, n): Global(role, f"{m}.{n}") for m, n in names}


NUMPY = {
    **_roles("ndarray_reconstruct", ("numpy.core.multiarray", "_reconstruct"),
             ("numpy._core.multiarray", "_reconstruct")),
    **_roles("ndarray", ("numpy", "ndarray")),
    **_roles("dtype", ("numpy", "dtype")),
    **_roles("codecs_encode", ("_codecs", "encode")),  # bytes in protocol-2 pickles of Python 3
}
"""NumPy arrays of numeric dtypes (``numpy.core`` and ``numpy._core`` names)."""

SCIPY_CSR = {
    **_roles("csr_matrix", ("scipy.sparse.csr", "csr_matrix"),
             ("scipy.sparse._csr", "csr_matrix")),
    **_roles("reconstructor", ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")),
    **_roles("object", ("__builtin__", "object"), ("builtins", "object")),
}
"""SciPy CSR matrices (the Planetoid feature files)."""
_CSR_NAMES = {g.name for g in SCIPY_CSR.values() if g.role == "csr_matrix"}

CONTAINERS = {
    **_roles("defaultdict", ("collections", "defaultdict")),
    **_roles("list", ("__builtin__", "list"), ("builtins", "list")),
    **_roles("ordered_dict", ("collections", "OrderedDict")),
    **_roles("set", ("__builtin__", "set"), ("builtins", "set")),
}
"""Dicts, ordered dicts, ``defaultdict(list)`` (as plain dicts) and sets."""

_STORAGE_DTYPES = {"DoubleStorage": torch.float64, "FloatStorage": torch.float32,
                   "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
                   "LongStorage": torch.int64, "IntStorage": torch.int32,
                   "ShortStorage": torch.int16, "CharStorage": torch.int8,
                   "ByteStorage": torch.uint8, "BoolStorage": torch.bool}
TORCH_TENSORS = {
    **_roles("rebuild_tensor", ("torch._utils", "_rebuild_tensor_v2")),
    **_roles("rebuild_parameter", ("torch._utils", "_rebuild_parameter")),
    **{("torch", n): Global("storage_type", n) for n in _STORAGE_DTYPES},
    **_roles("ordered_dict", ("collections", "OrderedDict")),
}
"""Dense tensors and parameters in torch's serialisation."""


def records(*qualnames: str) -> dict[tuple[str, str], Global]:
    """Classes whose instances come back as :class:`Record` (``"module.Class"``)."""
    return _roles("record", *(tuple(q.rsplit(".", 1)) for q in qualnames))  # type: ignore[misc]


# ------------------------------------------------------------------ constructors
_NUMERIC_KINDS = "biufc"
_MAX_RECONSTRUCT = 16  # elements _reconstruct may ask for before BUILD gives the data


def _is(value: Any, role: str) -> bool:
    return isinstance(value, Global) and value.role == role


def _dtype(spec: Any, align: Any = False, copy: Any = False) -> _Dtype:
    if not isinstance(spec, str):
        raise UnsafePickleError(f"numpy.dtype of {type(spec).__name__}: expected a type code")
    try:
        with warnings.catch_warnings():  # e.g. NumPy 2's notice for the alias "a": refused below
            warnings.simplefilter("ignore", DeprecationWarning)
            dtype = np.dtype(spec)
    except TypeError as err:
        raise UnsafePickleError(f"numpy.dtype({spec!r}): {err}") from err
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype:
        raise UnsafePickleError(f"numpy.dtype({spec!r}): only numeric dtypes are read")
    return _Dtype(spec)


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _Array:
    if not _is(cls, "ndarray"):
        raise UnsafePickleError("numpy _reconstruct of something other than numpy.ndarray")
    if not isinstance(shape, tuple) or not all(type(s) is int and 0 <= s for s in shape) \
            or int(np.prod(shape)) > _MAX_RECONSTRUCT:
        raise UnsafePickleError(f"numpy _reconstruct with shape {shape!r}")
    return _Array()


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode: expected (str, 'latin1')")
    return text.encode("latin1")


def _build_dtype(stub: _Dtype, state: Any) -> np.dtype:
    order = state[1] if isinstance(state, tuple) and len(state) > 1 else "|"
    if order not in ("<", ">", "|", "="):
        raise UnsafePickleError(f"numpy.dtype byte order {order!r}")
    dtype = np.dtype(stub.spec)
    return dtype.newbyteorder(order) if order in "<>" else dtype


def _build_array(state: Any) -> np.ndarray:
    if not isinstance(state, tuple) or len(state) != 5:
        raise UnsafePickleError("ndarray state: expected (version, shape, dtype, fortran, data)")
    _, shape, dtype, fortran, data = state
    if isinstance(dtype, _Dtype):
        dtype = dtype.value
    if not isinstance(dtype, np.dtype):
        raise UnsafePickleError("ndarray state: the dtype is not a built numpy.dtype")
    if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
        raise UnsafePickleError(f"ndarray state: shape {shape!r}")
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f"ndarray state: data of {type(data).__name__}, expected bytes")
    count = 1
    for s in shape:
        count *= s
    if count * dtype.itemsize != len(data):
        raise UnsafePickleError(f"ndarray state: shape {shape} of {dtype} needs "
                                f"{count * dtype.itemsize} bytes, the file holds {len(data)}")
    array = np.frombuffer(bytearray(data), dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _build_csr(state: Any) -> Any:
    import scipy.sparse as sp
    if not isinstance(state, dict):
        raise UnsafePickleError("csr_matrix state: expected a dict")
    parts = [state.get(k) for k in ("data", "indices", "indptr")]
    shape = state.get("_shape")
    if not all(isinstance(p, np.ndarray) and p.ndim == 1 for p in parts) or \
            not (isinstance(shape, tuple) and len(shape) == 2
                 and all(type(s) is int and s >= 0 for s in shape)):
        raise UnsafePickleError("csr_matrix state: expected 1-D data / indices / indptr and "
                                "a 2-D _shape")
    data, indices, indptr = parts
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise UnsafePickleError("csr_matrix state: integer indices and indptr expected")
    try:
        matrix = sp.csr_matrix((data, indices, indptr), shape=shape)
        matrix.check_format(full_check=True)
    except ValueError as err:
        raise UnsafePickleError(f"csr_matrix state: {err}") from err
    return matrix


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    hooks: Any = None, *metadata: Any) -> torch.Tensor:
    if not isinstance(storage, _Storage) or storage.data is None:
        raise UnsafePickleError("tensor: its storage is not one of the file's storages")
    dims = (offset, *size, *stride) if isinstance(size, tuple) and isinstance(stride, tuple) \
        else (None,)
    if len(size) != len(stride) or not all(type(v) is int and v >= 0 for v in dims):
        raise UnsafePickleError(f"tensor: bad offset / size / stride {offset}, {size}, {stride}")
    if hooks not in (None, OrderedDict()) or metadata not in ((), (None,), ({},)):
        raise UnsafePickleError("tensor: backward hooks or metadata are not read")
    extent = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if extent and offset + extent > storage.numel:
        raise UnsafePickleError(f"tensor: offset {offset} + extent {extent} beyond its "
                                f"storage of {storage.numel} elements")
    flat = torch.frombuffer(bytearray(storage.data), dtype=storage.dtype) if storage.numel \
        else torch.empty(0, dtype=storage.dtype)
    return flat.as_strided(size, stride, offset).clone().requires_grad_(bool(requires_grad)) \
        if storage.dtype.is_floating_point else flat.as_strided(size, stride, offset).clone()


def _rebuild_parameter(data: Any, requires_grad: Any, hooks: Any = None) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor) or hooks not in (None, OrderedDict()):
        raise UnsafePickleError("parameter: expected a tensor and no hooks")
    return torch.nn.Parameter(data.detach(), requires_grad=bool(requires_grad))


def _ordered_dict(items: Any = ()) -> OrderedDict:
    if not isinstance(items, (list, tuple)) or \
            not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in items):
        raise UnsafePickleError("OrderedDict: expected a list of pairs")
    return OrderedDict(items)


def _set(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise UnsafePickleError("set: expected a list")
    return set(items)


def _defaultdict(factory: Any = None) -> dict:
    if not (factory is None or _is(factory, "list")):
        raise UnsafePickleError("defaultdict: only list factories are read")
    return {}


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Record:
    if not (_is(cls, "csr_matrix") or _is(cls, "record")) or not _is(base, "object") \
            or state is not None:
        raise UnsafePickleError("copy_reg._reconstructor: expected (allowed class, object, None)")
    return Record(cls.name)


_CALLS: dict[str, Callable[..., Any]] = {
    "ndarray_reconstruct": _reconstruct, "dtype": _dtype, "codecs_encode": _encode,
    "rebuild_tensor": _rebuild_tensor, "rebuild_parameter": _rebuild_parameter,
    "ordered_dict": _ordered_dict, "set": _set, "defaultdict": _defaultdict,
    "reconstructor": _reconstructor,
}


# ------------------------------------------------------------------ the unpickler
class _Memo(dict):
    """The pickle memo, remembering where each half-built object is kept, so that
    its ``BUILD`` can put the finished value in its place."""

    def __init__(self) -> None:
        super().__init__()
        self.slots: dict[int, list[Any]] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, (_Array, _Dtype, Record)):
            self.slots.setdefault(id(value), []).append(key)
        super().__setitem__(key, value)

    def replace(self, old: Any, new: Any) -> None:
        for key in self.slots.pop(id(old), ()):
            if self.get(key) is old:
                super().__setitem__(key, new)


class _Unpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Python's pickle machine with globals, calls and ``BUILD`` answered by glt."""

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, data: bytes, allowed: dict[tuple[str, str], Global],
                 storages: Optional[Callable[[Any], _Storage]] = None, dry: bool = False
                 ) -> None:
        self.source = io.BytesIO(data)
        super().__init__(self.source, encoding="latin1")
        self.allowed = allowed
        self.storages = storages
        self.memo = _Memo()
        self.dry = dry  # tensors are not built (their storages' bytes are not read yet)
        self.rebuilt = 0

    def find_class(self, module: str, name: str) -> Global:
        found = self.allowed.get((module, name))
        if found is None:
            raise UnsafePickleError(f"refusing the global {module}.{name}: it is not one of "
                                    "the types this file format holds")
        return found

    def persistent_load(self, pid: Any) -> _Storage:
        if self.storages is None:
            raise UnsafePickleError("persistent ids (torch storages) are not read here")
        return self.storages(pid)

    def _call(self, func: Any, args: Any) -> Any:
        if not isinstance(func, Global) or not isinstance(args, tuple):
            raise UnsafePickleError(f"refusing to call {type(func).__name__}")
        if func.role == "record" and not args:
            return Record(func.name)
        if func.role == "csr_matrix" and not args:
            return Record(func.name)
        call = _CALLS.get(func.role)
        if call is None:
            raise UnsafePickleError(f"refusing to call {func.name}")
        if func.role.startswith("rebuild_"):
            self.rebuilt += 1
            if self.dry:
                if func.role == "rebuild_tensor" and not (args and isinstance(args[0], _Storage)):
                    raise UnsafePickleError("tensor: its storage is not one of the file's storages")
                return None
        try:
            return call(*args)
        except TypeError as err:
            raise UnsafePickleError(f"{func.name}: {err}") from err

    def load_reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if not (_is(cls, "record") or _is(cls, "csr_matrix")) or args:
            raise UnsafePickleError("NEWOBJ of something other than an allowed class")
        self.append(Record(cls.name))

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, _Array):
            value = _build_array(state)
        elif isinstance(inst, _Dtype):
            value = inst.value = _build_dtype(inst, state)
        elif isinstance(inst, Record) and inst.state is None:
            if inst.cls in _CSR_NAMES:
                value = _build_csr(state)
            else:
                inst.state = state
                return
        elif isinstance(inst, OrderedDict) and isinstance(state, dict) \
                and set(state) <= {"_metadata"}:
            return  # torch's state dicts carry their layers' versions: not needed
        else:
            raise UnsafePickleError(f"BUILD on {type(inst).__name__}")
        self.stack[-1] = value
        self.memo.replace(inst, value)  # the object was memoised before its BUILD

    def _refuse(self) -> None:
        raise UnsafePickleError("refusing an opcode that instantiates arbitrary objects")

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.BUILD[0]] = load_build
    for _op in (pickle.NEWOBJ_EX, pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2,
                pickle.EXT4):
        dispatch[_op[0]] = _refuse
    del _op


def _load(data: bytes, allowed: dict[tuple[str, str], Global],
          storages: Optional[Callable[[Any], _Storage]] = None) -> tuple[Any, int]:
    """One pickle from the start of ``data``: ``(object, bytes it took)``."""
    unpickler = _Unpickler(data, allowed, storages)
    obj = unpickler.load()
    return obj, unpickler.source.tell()


ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError,
                  NotImplementedError, RuntimeError, tokenize.TokenError)
"""What ``zipfile`` and ``np.load`` raise for a damaged ``.npz`` or ``.npy``: bad
headers, CRC or version fields, a member flagged as encrypted, a truncation (an
``.npy`` header NumPy cannot parse may end in ``tokenize``'s error)."""

_ERRORS = (pickle.UnpicklingError, IndexError, TypeError, AttributeError, struct.error,
           UnicodeDecodeError, OverflowError, MemoryError, RecursionError, *ARCHIVE_ERRORS)


def _reason(err: BaseException) -> str:
    if isinstance(err, EOFError):
        return "the data ends early (truncated)"
    return str(err) or type(err).__name__


def read_pickle(data: bytes, allowed: dict[tuple[str, str], Global], what: str) -> Any:
    """The object pickled in ``data`` (the whole of a file's bytes), built only
    from the ``allowed`` globals; a ``ValueError`` naming ``what`` otherwise."""
    try:
        obj, end = _load(data, allowed)
    except _ERRORS as err:
        raise ValueError(f"could not read {what}: {_reason(err)}") from err
    if end != len(data):
        raise ValueError(f"could not read {what}: {len(data) - end} bytes follow the pickle")
    return obj


# ------------------------------------------------------------------ torch files
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def _storage_pid(pid: Any, legacy: bool) -> tuple[str, torch.dtype, int]:
    """``(key, dtype, numel)`` of a storage persistent id."""
    size = 6 if legacy else 5
    if not isinstance(pid, tuple) or len(pid) != size or pid[0] != "storage" or \
            not _is(pid[1], "storage_type") or not isinstance(pid[2], str) or \
            type(pid[4]) is not int or pid[4] < 0 or (legacy and pid[5] is not None):
        raise UnsafePickleError(f"unexpected persistent id {pid!r}")
    return pid[2], _STORAGE_DTYPES[pid[1].name], pid[4]


def _read_zip(data: bytes, allowed: dict[tuple[str, str], Global]) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise UnsafePickleError("a torch zip file holds one <folder>/data.pkl")
        packed = [i.filename for i in z.infolist() if i.compress_type != zipfile.ZIP_STORED]
        if packed:  # torch stores its members; a compressed one could expand without bound
            raise UnsafePickleError(f"compressed members ({packed[0]}, ...): torch files "
                                    "store theirs uncompressed")
        prefix = pickles[0][: -len("data.pkl")]
        if prefix + "byteorder" in names and z.read(prefix + "byteorder") != b"little":
            raise UnsafePickleError("big-endian torch files are not read")
        seen: dict[str, _Storage] = {}

        def storage(pid: Any) -> _Storage:
            key, dtype, numel = _storage_pid(pid, legacy=False)
            if key not in seen:
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise UnsafePickleError(f"storage {key!r} is missing from the file")
                info = z.getinfo(member)
                nbytes = numel * torch.empty(0, dtype=dtype).element_size()
                if info.file_size != nbytes:
                    raise UnsafePickleError(f"storage {key!r} holds {info.file_size} bytes, "
                                            f"its tensors need {nbytes}")
                seen[key] = _Storage(dtype, numel, z.read(member))
            elif seen[key].dtype != dtype:
                raise UnsafePickleError(f"storage {key!r} named with two dtypes")
            return seen[key]

        main = z.read(pickles[0])
        obj, end = _load(main, allowed, storage)
        if end != len(main):
            raise UnsafePickleError("bytes follow the pickle in data.pkl")
        return obj


def _read_legacy(data: bytes, allowed: dict[tuple[str, str], Global]) -> Any:
    """torch's serialisation before 1.6: magic, protocol, system info, the object,
    the storage keys, then each storage as ``int64 numel`` and its bytes."""
    pos = 0
    header = []
    for _ in range(3):
        value, used = _load(data[pos:], {})
        header.append(value)
        pos += used
    magic, protocol, sys_info = header
    if magic != _LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL:
        raise UnsafePickleError("not a torch file (bad magic number or protocol)")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise UnsafePickleError("only little-endian torch files are read")
    main = data[pos:]
    storages: dict[str, _Storage] = {}

    def declare(pid: Any) -> _Storage:
        key, dtype, numel = _storage_pid(pid, legacy=True)
        if key in storages and storages[key].dtype != dtype:
            raise UnsafePickleError(f"storage {key!r} named with two dtypes")
        return storages.setdefault(key, _Storage(dtype, numel))

    # The storages' bytes follow the object: a first pass learns each storage's
    # dtype and size and where the object ends, building no tensor.
    first = _Unpickler(main, allowed, declare, dry=True)
    obj = first.load()
    end = first.source.tell()
    keys, used = _load(main[end:], {})
    at = end + used
    if not isinstance(keys, list) or sorted(keys) != sorted(storages):
        raise UnsafePickleError("the storage keys do not match the storages the object uses")
    for key in keys:
        if at + 8 > len(main):
            raise UnsafePickleError(f"storage {key!r} is truncated")
        (numel,) = struct.unpack("<q", main[at:at + 8])
        nbytes = numel * torch.empty(0, dtype=storages[key].dtype).element_size()
        if numel != storages[key].numel or at + 8 + nbytes > len(main):
            raise UnsafePickleError(f"storage {key!r}: its size or bytes do not match")
        storages[key].data = main[at + 8:at + 8 + nbytes]
        at += 8 + nbytes
    if at != len(main):
        raise UnsafePickleError(f"{len(main) - at} bytes follow the last storage")
    if not first.rebuilt:
        return obj
    return _load(main[:end], allowed, declare)[0]


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's zip format; its legacy format is a pickle


def _is_torch_file(head: bytes) -> bool:
    """Whether a file's first bytes begin torch's zip format or a pickle (0x80)."""
    return head[:4] == _ZIP_MAGIC or head[:1] == b"\x80"


def read_torch_file(path: str, allowed: dict[tuple[str, str], Global]) -> Any:
    """The object in a file written by ``torch.save`` (zip or legacy format),
    built from the ``allowed`` globals only; a ``ValueError`` naming ``path``
    for anything else (another global, a damaged or truncated file)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data[:4] == _ZIP_MAGIC:
            return _read_zip(data, allowed)
        return _read_legacy(data, allowed)
    except _ERRORS as err:
        raise ValueError(f"could not read {path}: {_reason(err)}") from err


def load_weights(path: str, what: str, map_location: str = "cpu", hint: str = "") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only, never
    code from the file. A file it refuses or cannot read raises a one-line
    ``ValueError`` naming ``what`` and ``path``, then ``hint`` (torch's own message
    for a refused file suggests ``weights_only=False``, which would run its code)."""
    end = f"; {hint}" if hint else ""
    with open(path, "rb") as f:
        head = f.read(4)
    if not _is_torch_file(head):
        kind = f"starts with {head[:2]!r}" if head else "is empty"
        raise ValueError(f"{what} {path} is not a file saved by torch (it {kind}){end}")
    try:
        with warnings.catch_warnings():  # a damaged file's odd protocol byte: refused below
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{what} {path} is damaged or holds objects other than tensors and "
                         "plain values, which glt never loads (a file glt did not write, or "
                         f"one altered since){end}") from err
    except Exception as err:  # torch raises several types for a damaged file
        line = (str(err).strip().splitlines() or [""])[0]
        first = line.split(". ", 1)[0].rstrip(".")[:200]  # torch's first sentence
        raise ValueError(f"{what} {path} is unreadable, damaged or cut short "
                         f"({type(err).__name__}: {first}){end}") from err
