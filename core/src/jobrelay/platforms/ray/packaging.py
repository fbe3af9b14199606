"""Deterministic zips of local working dirs for Ray's packages API.

Ray accepts only URIs over REST (``reference/ray.md`` §5), so a local ``working_dir`` is
zipped and uploaded as ``gcs://<name>``. The zip is byte-for-byte reproducible — entries
sorted, fixed timestamps, normalised permissions — and named after its SHA-256, so the
same folder always gives the same package and a second submit uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from jobrelay.errors import ConfigError

__all__ = ["MAX_PACKAGE_BYTES", "Package", "package_dir"]

MAX_PACKAGE_BYTES = 100 * 1024 * 1024  # the dashboard's request body limit
SKIPPED = frozenset({".git", "__pycache__"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can store


@dataclass(frozen=True)
class Package:
    """A zipped working dir: its bytes and its content-addressed package name."""

    name: str
    data: bytes

    @property
    def uri(self) -> str:
        return f"gcs://{self.name}"


def _entries(root: Path) -> list[tuple[str, Path | None]]:
    """(archive name, file or None for a folder), sorted, without skipped names."""
    entries: list[tuple[str, Path | None]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        base = Path(folder)
        rel = base.relative_to(root).as_posix()
        if rel != ".":
            entries.append((rel + "/", None))
        for name in sorted(files):
            if name in SKIPPED or name.endswith(".pyc"):
                continue
            path = base / name
            if path.is_file():  # a dangling symlink or a socket is not content
                entries.append((path.relative_to(root).as_posix(), path))
    return sorted(entries)


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # unix, so the permission bits below are honoured
    info.external_attr = mode << 16
    if not name.endswith("/"):
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def package_dir(path: str | Path, *, limit: int = MAX_PACKAGE_BYTES) -> Package:
    """Zip the folder at ``path`` reproducibly.

    ``.git`` and ``__pycache__`` folders and ``*.pyc`` files are left out. Raises
    ``ConfigError`` if the folder does not exist or the zip would exceed ``limit`` bytes
    (Ray's dashboard refuses larger uploads).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a folder on this machine", field="working_dir")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compresslevel=6) as archive:
        for name, file in _entries(root):
            if file is None:
                archive.writestr(_info(name, stat.S_IFDIR | 0o755), b"")
                continue
            executable = os.access(file, os.X_OK)
            info = _info(name, stat.S_IFREG | (0o755 if executable else 0o644))
            with file.open("rb") as source, archive.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
            if buffer.tell() > limit:
                raise ConfigError(
                    f"{str(root)!r} zips to more than {limit // (1024 * 1024)} MiB, the most "
                    "a Ray dashboard accepts; leave large data out of the working dir and "
                    "read it from storage (e.g. pass its URI in env)",
                    field="working_dir",
                )
    data = buffer.getvalue()
    if len(data) > limit:
        raise ConfigError(
            f"{str(root)!r} zips to {len(data)} bytes, over the {limit}-byte Ray upload limit",
            field="working_dir",
        )
    digest = hashlib.sha256(data).hexdigest()
    return Package(name=f"jobrelay_{digest[:32]}.zip", data=data)
