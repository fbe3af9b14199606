"""Crash-safe operations on local files, shared by the local and the ``file://`` stores.

The pattern everywhere: write a temp file in the same folder tree, ``fsync`` it, then make
it visible in one atomic step (``rename`` to replace, ``link`` to create exclusively) and
``fsync`` the folder. A process killed at any point leaves either the old state or the new
one, plus at most a temp file that :func:`sweep_stale_temps` removes later.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import IO

from jobrelay._procs import pid_alive
from jobrelay.artifacts.digests import ALGORITHM, digest_hex
from jobrelay.artifacts.filecopy import copy_file
from jobrelay.artifacts.streams import fsync_dir

__all__ = [
    "blob_path",
    "create_exclusive",
    "remove_quietly",
    "store_blob",
    "sweep_stale_temps",
    "temp_name",
    "write_atomic",
]

_HOST = socket.gethostname().replace(".", "_")


def temp_name(prefix: str = "") -> str:
    """A unique temp file name that records which process on which host made it."""
    return f"{prefix}{_HOST}.{os.getpid()}.{uuid.uuid4().hex}.tmp"


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def write_atomic(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new bytes."""
    tmp = (tmp_dir or path.parent) / temp_name(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes, tmp_dir: Path | None = None) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True if this call created it.

    ``link`` fails if the name is taken and publishes a complete, synced file in one step,
    so concurrent creators never clobber each other and nobody reads a half-written file.
    """
    tmp = (tmp_dir or path.parent) / temp_name(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_synced(tmp, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        remove_quietly(tmp)
    fsync_dir(path.parent)
    return True


def store_blob(src: IO[bytes], blobs: Path, tmp_dir: Path) -> tuple[str, int]:
    """Stream ``src`` into the content-addressed folder ``blobs``; return (digest, size).

    The digest is computed while copying into a temp file (of the bytes written to it, see
    :func:`~jobrelay.artifacts.filecopy.copy_file`), which is fsync-ed once and then
    becomes ``blobs/<algorithm>/<hex[:2]>/<hex>`` (or is dropped when that blob already exists:
    deduplicated). Blobs are made read-only so a job handed a blob path cannot change it
    by accident.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / temp_name()
    try:
        digest, size = copy_file(src, tmp, durable=True)
        target = blob_path(blobs, digest)
        if target.exists() and target.stat().st_size == size:
            remove_quietly(tmp)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            fsync_dir(target.parent)
    except BaseException:
        remove_quietly(tmp)
        raise
    return digest, size


def blob_path(blobs: Path, digest: str) -> Path:
    """Where the blob with ``digest`` lives under ``blobs``: ``<algorithm>/<hex[:2]>/<hex>``."""
    hexdigest = digest_hex(digest)
    return blobs / ALGORITHM / hexdigest[:2] / hexdigest


def remove_quietly(path: Path) -> None:
    """Remove a file or folder tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep_stale_temps(tmp_dir: Path) -> int:
    """Remove temp files left by killed processes of this host; return how many.

    Only files whose recorded process is gone are removed, so a put running in another
    process is never disturbed.
    """
    removed = 0
    if not tmp_dir.is_dir():
        return 0
    for entry in tmp_dir.iterdir():
        parts = entry.name.lstrip(".").split(".")
        if len(parts) != 4 or parts[0] != _HOST or not parts[1].isdigit():
            continue
        if not pid_alive(int(parts[1])):
            remove_quietly(entry)
            removed += 1
    return removed
