"""Selection of the kernel backend behind glt's scatter/segment/spmm ops.

``"torch"`` (default) runs on PyTorch's own kernels (``torch.sparse`` CSR
products, ``scatter_add_``) plus glt's Numba kernels on CPU. ``"torch_scatter"``
routes the reductions through the optional ``torch_scatter`` package. Both give
the same results. Choose with :func:`set_backend`, :func:`use_backend` or the
``GLT_BACKEND`` environment variable.
"""
from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Iterator

BACKENDS = ("torch", "torch_scatter")

_INSTALL_HINT = ("torch_scatter is not installed; build it with "
                 "`pip install --no-build-isolation torch-scatter` (takes ~7 minutes) "
                 "or use glt's default backend 'torch'")


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"expected backend to be one of {BACKENDS}, got {name!r}")
    if name == "torch_scatter":
        torch_scatter()
    return name


_current = os.environ.get("GLT_BACKEND", "torch")


def get_backend() -> str:
    """The name of the active backend."""
    return _current


def set_backend(name: str) -> None:
    """Select the backend for all later calls (``"torch"`` or ``"torch_scatter"``)."""
    global _current
    _current = _check(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager that selects a backend for the enclosed block."""
    global _current
    previous = _current
    _current = _check(name)
    try:
        yield
    finally:
        _current = previous


def has_torch_scatter() -> bool:
    """Whether the optional ``torch_scatter`` package can be imported."""
    try:
        torch_scatter()
    except ImportError:
        return False
    return True


def torch_scatter() -> ModuleType:
    """Import ``torch_scatter`` lazily, with an install hint when it is missing."""
    try:
        return importlib.import_module("torch_scatter")
    except (ImportError, OSError) as err:
        raise ImportError(_INSTALL_HINT) from err
