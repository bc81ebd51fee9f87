"""Boundary checks shared by glt's public functions; messages read
"expected <arg> to be <X>, got <Y>"."""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Optional

import torch
from torch import Tensor

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def as_index(index: Tensor, name: str, *, length: Optional[int] = None,
             bound: Optional[int] = None) -> Tensor:
    """Check a 1-D integer index (ids in ``[0, bound)``) and return it as int64."""
    if not isinstance(index, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(index).__name__}")
    if index.dtype not in _INT_DTYPES:
        raise ValueError(f"expected {name} to be an integer tensor (torch.int64), "
                         f"got {index.dtype}")
    if index.dim() != 1:
        raise ValueError(f"expected {name} to be 1-D, got shape {tuple(index.shape)}")
    if length is not None and index.numel() != length:
        raise ValueError(f"expected {name} to have {length} entries (one per row of the input), "
                         f"got {index.numel()}")
    if index.numel() > 0:
        lo, hi = (int(v) for v in torch.aminmax(index))
        if lo < 0:
            raise ValueError(f"expected {name} to hold non-negative ids, got {lo}")
        if bound is not None and hi >= bound:
            raise ValueError(f"expected {name} to hold ids below {bound}, got {hi}")
    return index.long()


def as_int(value: Any, name: str, minimum: Optional[int] = None) -> int:
    """``value`` as an int: a Python or NumPy integer (not a float such as 2.7 or
    2.0, nor a bool), at least ``minimum`` when given."""
    if isinstance(value, bool):
        raise TypeError(f"expected {name} to be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"expected {name} to be an integer, got {value!r} "
                        f"({type(value).__name__})") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"expected {name} to be >= {minimum}, got {number}")
    return number


def as_float(value: Any, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite float at least ``minimum`` (above it if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"expected {name} to be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum or strict and number == minimum:
        raise ValueError(f"expected {name} to be a finite number {'>' if strict else '>='} "
                         f"{minimum:g}, got {value!r}")
    return number


def as_probability(value: Any, name: str) -> float:
    """``value`` as a float in ``[0, 1]`` (a dropout rate)."""
    number = as_float(value, name)
    if number > 1.0:
        raise ValueError(f"expected {name} to be in [0, 1], got {value!r}")
    return number


def check_features(x: Tensor, name: str, rows: Optional[int] = None) -> None:
    """Check a floating tensor with at least one dimension and (optionally) ``rows`` rows."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"expected {name} to be a floating-point tensor, got {x.dtype}")
    if x.layout != torch.strided:
        raise ValueError(f"expected {name} to be a dense tensor, got layout {x.layout} "
                         "(sparse features go to layers, which project them first)")
    if x.dim() < 1:
        raise ValueError(f"expected {name} to have at least 1 dimension, got a scalar")
    if rows is not None and x.size(0) != rows:
        raise ValueError(f"expected {name} to have {rows} rows, got {x.size(0)}")


def check_edge_weight(edge_weight: Tensor, num_edges: int) -> None:
    """Check a 1-D floating ``[E]`` weight per edge."""
    check_features(edge_weight, "edge_weight", rows=num_edges)
    if edge_weight.dim() != 1:
        raise ValueError(f"expected edge_weight to be 1-D (one weight per edge), got shape "
                         f"{tuple(edge_weight.shape)}")


def check_finite_weight(edge_weight: Tensor) -> None:
    """Refuse NaN or infinite edge weights: a graph's weights, given once, that
    would turn every output they reach into NaN."""
    count, first = count_nonfinite(edge_weight)
    if count:
        raise ValueError(f"expected finite edge weights, got {count} NaN or infinite (the "
                         f"first at edge {first})")


_BLOCK = 1 << 24  # entries scanned at a time by count_nonfinite


def count_nonfinite(values: Tensor) -> tuple[int, int]:
    """``(count, first row)`` of the NaN or infinite entries of ``values [N, ...]``
    (dense, sparse COO or CSR; ``(0, -1)`` when there are none). Scanned in
    blocks of about ``_BLOCK`` entries, so the check needs no copy of a large
    matrix; a block whose float64 sum is finite holds no such value (float32 and
    smaller cannot overflow it) and is passed in one reduction."""
    if values.numel() == 0 or not values.is_floating_point():
        return 0, -1
    if values.layout == torch.sparse_coo:
        values = values if values.is_coalesced() else values.coalesce()
        stored = values.values()
        row_of = values.indices()[0].__getitem__
    elif values.layout == torch.sparse_csr:
        stored = values.values()
        crow = values.crow_indices()

        def row_of(position: int) -> Tensor:
            return torch.searchsorted(crow, crow.new_tensor(position), right=True) - 1
    else:
        stored, row_of = values, int
    width = max(stored[:1].numel(), 1)
    step = max(_BLOCK // width, 1)
    count, first = 0, None
    for start in range(0, stored.size(0), step):
        block = stored[start:start + step]
        if torch.isfinite(block.sum(dtype=torch.float64)):  # no NaN or inf: its sum is finite
            continue
        bad = ~torch.isfinite(block).reshape(-1, width)
        count += int(bad.sum())
        if count and first is None:
            first = start + int(bad.any(dim=1).nonzero()[0])
    return (count, int(row_of(first))) if count else (0, -1)


def check_reduce(reduce: str, allowed: tuple[str, ...], return_arg: bool = False) -> None:
    """Check ``reduce`` is allowed, and max/min when an arg is asked for."""
    if reduce not in allowed:
        raise ValueError(f"expected reduce to be one of {allowed}, got {reduce!r}")
    if return_arg and reduce not in ("max", "min"):
        raise ValueError(f"expected reduce to be 'max' or 'min' with return_arg=True, "
                         f"got {reduce!r}")


def size_from_index(index: Tensor) -> int:
    """``index.max() + 1``, or 0 for an empty index."""
    return int(index.max()) + 1 if index.numel() > 0 else 0


def check_same_device(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.device != b.device:
        raise ValueError(f"expected {name_a} and {name_b} on the same device, "
                         f"got {a.device} and {b.device}")
