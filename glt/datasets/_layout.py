"""Where a registered set lives under a data folder."""
from __future__ import annotations

import os
from typing import Sequence


def check_root(root: str) -> str:
    """``root``, a data folder that exists or can be made; raises
    ``NotADirectoryError`` when it is a file or lies under one."""
    parent = root
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        where = "" if parent == root else f" ({parent} is a file)"
        raise NotADirectoryError(f"{root} is not a folder{where}")
    return root


def dataset_folder(root: str, names: Sequence[str], marker: str) -> str:
    """``<root>/<names[0]>``, or ``root`` itself when that folder is absent, ``root``
    bears one of ``names`` and holds the file ``marker`` (a user who pointed at the
    set's own folder rather than its parent); ``root`` is checked by :func:`check_root`."""
    check_root(root)
    path = os.path.join(root, names[0])
    if not os.path.isdir(path) and os.path.basename(os.path.normpath(root)) in names \
            and os.path.isfile(os.path.join(root, marker)):
        return root
    return path
