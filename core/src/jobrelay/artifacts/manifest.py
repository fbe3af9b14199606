"""Folder artifacts: a manifest of relative path -> (digest, size), stored as a blob.

The manifest's canonical JSON bytes are what a folder version's digest is computed over,
so two folders with the same files (same paths, same bytes) have the same digest.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jobrelay.artifacts.base import check_relative_path
from jobrelay.artifacts.digests import digest_bytes, digest_hex, hash_file
from jobrelay.errors import ArtifactError

__all__ = ["FORMAT", "Manifest", "ManifestEntry", "digest_path", "walk_folder"]

FORMAT = "jobrelay.folder/1"


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a folder artifact."""

    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """The files of a folder artifact by POSIX relative path."""

    files: dict[str, ManifestEntry]

    @property
    def size(self) -> int:
        """Total bytes of every file."""
        return sum(entry.size for entry in self.files.values())

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, so equal folders give equal bytes."""
        body = {
            "format": FORMAT,
            "files": {
                path: {"digest": entry.digest, "size": entry.size}
                for path, entry in sorted(self.files.items())
            },
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        return digest_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and check a manifest; every path must stay inside the folder."""
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {body.get('format')!r}")
            files = {
                check_relative_path(path): ManifestEntry(str(item["digest"]), int(item["size"]))
                for path, item in body["files"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArtifactError(f"folder manifest is malformed: {exc}") from None
        for entry in files.values():
            digest_hex(entry.digest)
        return cls(files)


def walk_folder(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(relative POSIX path, absolute path)`` of every regular file, sorted.

    Symlinks to files are followed (their content is stored); a symlinked folder or a
    special file (socket, FIFO, device) is an ``ArtifactError``, since it cannot be
    reproduced faithfully as bytes.
    """
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for dirname in dirnames:
            if (base / dirname).is_symlink():
                raise ArtifactError(f"{base / dirname} is a symlinked folder; copy it in instead")
        for filename in sorted(filenames):
            path = base / filename
            try:
                mode = path.stat().st_mode
            except OSError as exc:  # e.g. a symlink pointing nowhere
                raise ArtifactError(f"cannot read {path}: {exc.strerror}") from None
            if not stat.S_ISREG(mode):
                raise ArtifactError(f"{path} is not a regular file and cannot be stored")
            yield check_relative_path(path.relative_to(root).as_posix()), path


def digest_path(path: Path) -> tuple[str, int]:
    """``(digest, size)`` a put of the file or folder ``path`` would record; stores nothing."""
    try:
        if path.is_dir():
            files = {rel: ManifestEntry(*hash_file(file)) for rel, file in walk_folder(path)}
            manifest = Manifest(files)
            return manifest.digest, manifest.size
        if not path.is_file():
            raise ArtifactError(f"{path} is not a file or folder; give the path of one")
        return hash_file(path)
    except OSError as exc:
        raise ArtifactError(f"cannot read {exc.filename or path}: {exc.strerror}") from None
