"""The registry of dataset facts (``registry.json``), read by every loader."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Optional


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset.

    Attributes:
        name: registry key (``"ogbn-products"``, ``"gowalla"``, ...).
        source: file format / loader family: ``planetoid``, ``ogb``, ``lightgcn``, ``linkx``.
        title: display name.
        url: where the original files are downloaded from.
        version: release of the files (OGB's ``RELEASE_v<version>.txt``).
        task: ``node``, ``link`` or ``recommendation``.
        metric: the evaluation metric of the usual benchmark (``acc``, ``hits@50``, ...).
        split: name of the standard split.
        num_classes: label classes of a node task, else ``None``.
        extra: the remaining source-specific facts (OGB's ``add_inverse_edge``, ...,
            and ``files``: the SHA-256 and size, or the git blob id, of each file
            the loader downloads).
    """

    name: str
    source: str
    title: str
    url: str
    version: int
    task: str
    metric: str
    split: str
    num_classes: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def file_record(self, name: str) -> Optional[dict[str, Any]]:
        """The registered ``{"sha256", "size"}`` (or ``{"git_blob"}``) of the
        downloaded file ``name``, or ``None`` when none is registered (the
        download is then not verified)."""
        return self.extra.get("files", {}).get(name)


_FIELDS = ("source", "title", "url", "version", "task", "metric", "split", "num_classes")


@lru_cache(maxsize=1)
def _registry() -> dict[str, DatasetInfo]:
    text = (resources.files("glt.datasets") / "registry.json").read_text()
    infos = {}
    for name, facts in json.loads(text).items():
        known = {k: facts[k] for k in _FIELDS if k in facts}
        infos[name] = DatasetInfo(name=name, extra={k: v for k, v in facts.items()
                                                    if k not in _FIELDS}, **known)
    return infos


def list_datasets(source: Optional[str] = None, task: Optional[str] = None) -> list[str]:
    """Registered dataset names, optionally only those of one ``source`` or ``task``."""
    return sorted(n for n, i in _registry().items()
                  if (source is None or i.source == source) and (task is None or i.task == task))


def dataset_info(name: str, source: Optional[str] = None) -> DatasetInfo:
    """The facts of dataset ``name`` (case-insensitive); a ``ValueError`` listing
    the valid names when it is unknown (or not of the given ``source``)."""
    info = _registry().get(name.lower()) or _registry().get(name)
    if info is None or (source is not None and info.source != source):
        valid = list_datasets(source)
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(valid)}")
    return info


def registered_file(path: str) -> Optional[tuple[str, dict[str, Any]]]:
    """``(dataset, record)`` (:meth:`DatasetInfo.file_record`) when the file at
    ``path`` is one a registered release lists: its name names the set
    (Planetoid's ``ind.cora.x``) or its folder does (``gowalla/train.txt``); else
    ``None`` (a ``train.txt`` of an unregistered folder is the user's own data)."""
    name = os.path.basename(path)
    folder = os.path.basename(os.path.dirname(os.path.abspath(path))).lower()
    for dataset, info in _registry().items():
        record = info.file_record(name)
        if record is not None and (dataset == folder or dataset in name.lower().split(".")):
            return dataset, record
    return None


def registered_files(root: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, dataset, record)`` of every file under ``root`` that a registered
    release lists (:func:`registered_file`), build folders (``.tmp-``) left out."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if ".tmp-" not in d)
        for name in sorted(names):
            match = registered_file(os.path.join(folder, name))
            if match is not None:
                found.append((os.path.join(folder, name), *match))
    return found
