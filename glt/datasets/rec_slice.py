"""The bundled recommendation default: a slice of the LightGCN gowalla split.

Rule (deterministic, from the released ``train.txt`` / ``test.txt``): keep the
first ``num_users`` users (lines); keep the items that at least
``min_item_users`` of them have in ``train.txt``; drop every other item from both
files; number the kept items 0, 1, ... in increasing original id. Users keep
their ids and their lines (a test line may end up with no item).
"""
from __future__ import annotations

import os
from collections import Counter

NUM_USERS = 2000
MIN_ITEM_USERS = 8


def _lines(path: str, count: int) -> list[list[int]]:
    out = []
    with open(path) as f:
        for line in f:
            if len(out) == count:
                break
            ids = [int(t) for t in line.split()]
            if not ids:
                continue
            if ids[0] != len(out):
                raise ValueError(f"{path}: expected user {len(out)} on line {len(out) + 1}, "
                                 f"got {ids[0]} (not the LightGCN split's order)")
            out.append(ids[1:])
    if len(out) < count:
        raise ValueError(f"{path} has {len(out)} users, fewer than the slice's {count}")
    return out


def cut_slice(folder: str, num_users: int = NUM_USERS,
              min_item_users: int = MIN_ITEM_USERS) -> dict[str, str]:
    """``{"train.txt": text, "test.txt": text}`` of the slice of the LightGCN-format
    set in ``folder`` (see the module's rule)."""
    train = _lines(os.path.join(folder, "train.txt"), num_users)
    test = _lines(os.path.join(folder, "test.txt"), num_users)
    users_per_item = Counter(i for items in train for i in set(items))
    kept = sorted(i for i, n in users_per_item.items() if n >= min_item_users)
    new_id = {item: k for k, item in enumerate(kept)}
    out = {}
    for name, rows in (("train.txt", train), ("test.txt", test)):
        out[name] = "".join(" ".join(map(str, [u] + [new_id[i] for i in items if i in new_id]))
                            + "\n" for u, items in enumerate(rows))
    return out


def bundled_dir() -> str:
    """Folder of the bundled slice inside the package."""
    from importlib import resources
    return str(resources.files("glt.datasets") / "_bundled" / "gowalla-slice")
