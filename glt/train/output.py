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
            f.write(to_json(result) + "\n")
        os.replace(path + ".tmp", path)


def to_json(obj: Any, indent: int = 0) -> str:
    """``obj`` as JSON indented by two spaces, every list of plain values on one
    line (curves of thousands of points stay readable and small)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in obj):
        items = [f"{inner}{to_json(v, indent + 2)}" for v in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj)


def hardware(device: str) -> str:
    """What a run ran on, for result files and tables: the GPU's name on CUDA,
    else the CPU's architecture and torch's thread count."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    threads = torch.get_num_threads()
    return f"{platform.machine()} CPU, {threads} thread{'s' if threads != 1 else ''}"
