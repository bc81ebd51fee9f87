"""Atomic, verified file download with clear errors (no prompts, no partial files)."""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from typing import Any, Iterator, Optional

from tqdm.auto import tqdm

from glt.datasets._cache import file_sha256

log = logging.getLogger(__name__)


MIRROR_ENV = "GLT_DOWNLOAD_MIRROR"
_progress = [False]


@contextlib.contextmanager
def download_progress() -> Iterator[None]:
    """Show a progress bar for each download started inside the block (for
    commands a user runs; library calls stay silent)."""
    before = _progress[0]
    _progress[0] = True
    try:
        yield
    finally:
        _progress[0] = before


def mirrored(url: str) -> str:
    """``url`` through ``$GLT_DOWNLOAD_MIRROR`` when it is set: ``https://host/path``
    becomes ``<mirror>/host/path`` (a local copy of the sources, or a test server)."""
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}" + (
        f"?{parts.query}" if parts.query else "")


class DownloadError(RuntimeError):
    """A download that failed (network, server, truncation); the message names the URL."""


class ChecksumError(ValueError):
    """A downloaded file is not the registered one (its SHA-256, size or git blob id differs)."""


def download_url(url: str, path: str, expected: Optional[dict[str, Any]] = None,
                 timeout: float = 60.0) -> str:
    """Fetch ``url`` to ``path`` through a temporary file renamed on success.

    ``expected`` is the registry's record of the file, ``{"sha256": hex,
    "size": bytes}`` (or ``{"git_blob": hex}``, see :func:`git_blob_id`): the
    bytes are hashed as they arrive and checked before the rename; a mismatch
    deletes them and raises :class:`ChecksumError` naming the URL and both
    hashes. Without a record the file is kept with a warning that it could not
    be verified. A failed, truncated or interrupted download raises
    :class:`DownloadError` naming the URL and leaves nothing at ``path``, nor
    the folders it created.
    """
    url = mirrored(url)
    folder = os.path.dirname(os.path.abspath(path))
    created = _missing_folders(folder)
    os.makedirs(folder, exist_ok=True)
    log.info("downloading %s -> %s", url, path)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    done = False
    try:
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                announced = resp.headers.get("Content-Length")
                total = int(announced) if announced and announced.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, leave=False,
                          desc=os.path.basename(path), disable=not _progress[0]) as bar:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
                        bar.update(len(block))
            if total is not None and total != size:
                raise OSError(f"the server announced {total} bytes and sent {size}")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
            raise DownloadError(f"could not download {url} to {path}: {err}. Without "
                                f"internet, place the file there by hand.") from err
        _verify(url, expected, tmp, digest.hexdigest(), size)
        os.replace(tmp, path)
        done = True
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


def fetch_file(url: str, path: str, expected: Optional[dict[str, Any]], dataset: str) -> str:
    """``path``: downloaded from ``url`` and verified against ``expected`` (the
    registry's record) when missing, else the file already there, with a
    warning when it is not ``dataset``'s registered file (:func:`check_present`)."""
    if os.path.exists(path):
        check_present(path, expected, dataset)
        return path
    return download_url(url, path, expected)


def git_blob_id(path: str) -> str:
    """The id a git tree records for the file's bytes: the SHA-1 of ``blob <size>``,
    a NUL byte and the bytes. The registry keeps it for a file known only from its
    source repository's tree (its bytes absent from every copy at hand)."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_record(record: dict[str, Any]) -> str:
    """A registry record as text: ``N bytes, SHA-256 HEX`` or ``git blob HEX``."""
    if record.get("sha256"):
        return f"{record.get('size')} bytes, SHA-256 {record['sha256']}"
    return f"git blob {record['git_blob']}"


def _verifiable(record: Optional[dict[str, Any]]) -> bool:
    return bool(record) and bool(record.get("sha256") or record.get("git_blob"))


def file_matches(path: str, expected: dict[str, Any]) -> tuple[bool, str]:
    """``(matches, the file described as the record is)`` for the file at ``path``
    and a registry record, ``{"sha256", "size"}`` or ``{"git_blob"}``."""
    size = os.path.getsize(path)
    if expected.get("sha256"):
        digest = file_sha256(path)
        same = size == expected.get("size", size) and digest == expected["sha256"]
        return same, f"{size} bytes, SHA-256 {digest}"
    blob = git_blob_id(path)
    return blob == expected["git_blob"], f"{size} bytes, git blob {blob}"


def check_present(path: str, expected: Optional[dict[str, Any]], dataset: str) -> None:
    """Warn when the file at ``path``, already on disk (not downloaded now), is
    not ``dataset``'s registered file (``expected``: another size or hash):
    figures computed on it are not comparable with the published ones."""
    if not _verifiable(expected):
        return
    same, found = file_matches(path, expected)
    if same:
        return
    warnings.warn(f"{path} is not {dataset}'s registered file ({found}, where the registered "
                  f"one has {describe_record(expected)}): figures on it are not comparable "
                  f"with the published ones (`glt data verify` lists every such file)",
                  stacklevel=3)


def _verify(url: str, expected: Optional[dict[str, Any]], path: str, sha256: str,
            size: int) -> None:
    """Check the download of ``url``, now at ``path`` (``size`` bytes hashed to
    ``sha256`` as they arrived), against its registry record."""
    if not _verifiable(expected):
        warnings.warn(f"no checksum is registered for {url}: the download ({size} bytes, "
                      f"SHA-256 {sha256}) is not verified", stacklevel=3)
        return
    if expected.get("size") is not None and int(expected["size"]) != size:
        raise ChecksumError(f"the download of {url} has {size} bytes, expected "
                            f"{expected['size']} (SHA-256 expected {expected['sha256']}, got "
                            f"{sha256}); it was deleted")
    if not expected.get("sha256"):
        blob = git_blob_id(path)
        if blob != expected["git_blob"]:
            raise ChecksumError(f"the download of {url} has git blob id {blob}, expected "
                                f"{expected['git_blob']}; it was deleted")
        return
    if expected["sha256"] != sha256:
        raise ChecksumError(f"the download of {url} has SHA-256 {sha256}, expected "
                            f"{expected['sha256']}; it was deleted")


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
