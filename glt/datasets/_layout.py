"""Where a registered set lives under a data folder."""
from __future__ import annotations

import os
from typing import Sequence


def dataset_folder(root: str, names: Sequence[str], marker: str) -> str:
    """``<root>/<names[0]>``, or ``root`` itself when that folder is absent, ``root``
    bears one of ``names`` and holds the file ``marker`` (a user who pointed at the
    set's own folder rather than its parent)."""
    path = os.path.join(root, names[0])
    if not os.path.isdir(path) and os.path.basename(os.path.normpath(root)) in names \
            and os.path.isfile(os.path.join(root, marker)):
        return root
    return path
