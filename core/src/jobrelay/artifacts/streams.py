"""Streaming copy with the digest computed in the same pass, and digest strings.

Every byte an artifact store moves goes through :func:`copy_hashing`: one fixed buffer is
reused for the whole stream, so memory stays flat however large the file is.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from jobrelay.errors import ArtifactError, IntegrityError

__all__ = [
    "CHUNK_SIZE",
    "copy_hashing",
    "digest_hex",
    "fsync_dir",
    "hash_file",
    "sha256_digest",
    "verify",
]

CHUNK_SIZE = 4 * 2**20
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of a ``sha256:<hex>`` digest; ``ArtifactError`` for anything else."""
    match = _DIGEST.match(digest) if isinstance(digest, str) else None
    if not match:
        raise ArtifactError(f"unsupported digest {digest!r}; expected sha256:<64 hex digits>")
    return match.group(1)


def copy_hashing(src: IO[bytes], dst: IO[bytes] | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (or just read it when ``dst`` is None).

    Returns ``(digest, size)`` of the bytes that went through.
    """
    hasher = hashlib.sha256()
    buffer = memoryview(bytearray(CHUNK_SIZE))
    # Every source we open (files, BytesIO, fsspec files) has readinto: reading into one
    # reused buffer is what keeps memory flat.
    readinto: Callable[[memoryview], int | None] = src.readinto  # type: ignore[attr-defined]
    size = 0
    while True:
        count = readinto(buffer)
        if not count:
            break
        chunk = buffer[:count]
        hasher.update(chunk)
        if dst is not None:
            dst.write(chunk)
        size += count
    return "sha256:" + hasher.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    """``(digest, size)`` of a local file, read in one streaming pass."""
    with open(path, "rb", buffering=0) as src:
        return copy_hashing(src)


def verify(what: str, got: tuple[str, int], digest: str, size: int | None) -> None:
    """Raise ``IntegrityError`` unless the ``(digest, size)`` read back is the recorded one."""
    got_digest, got_size = got
    if got_digest != digest or (size is not None and got_size != size):
        raise IntegrityError(
            f"{what} is corrupt: read {got_size} bytes with digest {got_digest}, "
            f"expected {size} bytes with digest {digest}; the stored copy was changed "
            "or damaged, put the artifact again"
        )


def fsync_dir(path: Path) -> None:
    """Make a rename or link inside ``path`` durable (a no-op where dirs cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
