"""Atomic file download with clear errors (no prompts, no partial files)."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


def download_url(url: str, path: str, timeout: float = 60.0) -> str:
    """Fetch ``url`` to ``path`` through a temporary file renamed on success.

    Raises ``RuntimeError`` naming the URL when the fetch fails; a failed or
    interrupted download leaves nothing at ``path``, nor the folders it created.
    """
    folder = os.path.dirname(os.path.abspath(path))
    created = _missing_folders(folder)
    os.makedirs(folder, exist_ok=True)
    log.info("downloading %s -> %s", url, path)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    done = False
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, path)
        done = True
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise RuntimeError(f"could not download {url} to {path}: {err}. Without internet, "
                           f"place the file there by hand.") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not done:
            for made in created:  # deepest first; one that gained other files stays
                try:
                    os.rmdir(made)
                except OSError:
                    break
    return path


def _missing_folders(folder: str) -> list[str]:
    """The folders on the way to ``folder`` (itself included) that do not exist
    yet, deepest first."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing
