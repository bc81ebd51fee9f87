"""Writing run results."""
from __future__ import annotations

import json
import os
import platform
from typing import Any, Optional

import torch


def write_json(path: Optional[str], result: Any) -> None:
    """Write ``result`` as JSON to ``path`` (nothing when ``path`` is None), through a
    temporary file renamed into place, so a reader never sees half a file."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(path + ".tmp", path)


def hardware(device: str) -> str:
    """What a run ran on, for result files and tables: the GPU's name on CUDA,
    else the CPU's architecture and torch's thread count."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
