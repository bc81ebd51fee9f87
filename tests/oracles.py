"""Helpers for running the independent oracles the tests compare against."""
import sys
from contextlib import nullcontext
from typing import ContextManager
from unittest import mock

import numpy as np


def numpy2_pickle_names() -> ContextManager:
    """Under NumPy 1, the module names NumPy 2 pickles arrays under
    (``numpy._core``), for a plain unpickler (torch.load, ogb's reader) reading a
    file NumPy 2 wrote, such as the shared ddi release's rebuilt ``train.pt``;
    nothing under NumPy 2. glt's own reader needs neither."""
    if hasattr(np, "_core"):
        return nullcontext()
    return mock.patch.dict(sys.modules, {"numpy._core": np.core,
                                         "numpy._core.multiarray": np.core.multiarray})
