"""Fixtures for the artifact tests: real stores on disk and in memory, and a real S3.

The S3 server is moto's, started in this process on a free loopback port; the tests set
dummy credentials and talk to nothing else.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from jobrelay.artifacts import FsspecArtifactStore, LocalArtifactStore
from jobrelay.artifacts.base import ArtifactStore

STORE_KINDS = ["local", "file", "memory"]


def content_digest(data: bytes, block: int = 4 * 2**20) -> str:
    """The artifact digest, computed independently of jobrelay: SHA-256 of block SHA-256s."""
    blocks = (hashlib.sha256(data[i : i + block]).digest() for i in range(0, len(data), block))
    return "sha256-4mib:" + hashlib.sha256(b"".join(blocks)).hexdigest()


def blob_key(digest: str) -> str:
    """Where a store keeps the blob with ``digest``, relative to the store's root."""
    hexdigest = digest.removeprefix("sha256-4mib:")
    return f"blobs/sha256-4mib/{hexdigest[:2]}/{hexdigest}"


def make_store(kind: str, tmp_path: Path) -> ArtifactStore:
    if kind == "local":
        return LocalArtifactStore(tmp_path / "home" / "artifacts")
    if kind == "file":
        return FsspecArtifactStore(f"file://{tmp_path}/fsspec-store")
    return FsspecArtifactStore(f"memory://jobrelay-tests/{uuid.uuid4().hex}")


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """One store of each kind in turn."""
    return make_store(request.param, tmp_path)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "home" / "artifacts")


@pytest.fixture
def file_store(tmp_path: Path) -> FsspecArtifactStore:
    return FsspecArtifactStore(f"file://{tmp_path}/fsspec-store")


@pytest.fixture
def sample_folder(tmp_path: Path) -> Path:
    """A small folder tree with nested files, an empty file and binary content."""
    root = tmp_path / "sample"
    (root / "images" / "cats").mkdir(parents=True)
    (root / "README.md").write_text("# sample\n")
    (root / "images" / "cats" / "a.bin").write_bytes(bytes(range(256)) * 100)
    (root / "images" / "empty.txt").write_bytes(b"")
    (root / "labels.csv").write_text("id,label\n1,cat\n")
    return root


def folder_contents(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root``."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
