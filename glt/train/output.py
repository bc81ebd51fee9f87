"""Writing run results."""
from __future__ import annotations

import json
import os
from typing import Any, Optional


def write_json(path: Optional[str], result: Any) -> None:
    """Write ``result`` as JSON to ``path`` (nothing when ``path`` is None), through a
    temporary file renamed into place, so a reader never sees half a file."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(path + ".tmp", path)
