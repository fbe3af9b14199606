"""Names, aliases and paths that could escape a store are refused with a clear error."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from jobrelay.artifacts import FsspecArtifactStore, check_relative_path, parse_reference
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.manifest import FORMAT
from jobrelay.errors import ArtifactError

from .conftest import blob_key

BAD_NAMES = [
    ("../x", "path separator"),
    ("/etc/passwd", "path separator"),
    ("a/b", "path separator"),
    ("a\\b", "path separator"),
    ("..", "'.' or '..'"),
    (".", "'.' or '..'"),
    ("", "must not be empty"),
    ("bad\0name", "NUL"),
    ("a:b", "':' or '#'"),
    (".hidden", "must not start with '.'"),
    ("has space", "letters, digits"),
    ("x" * 129, "longer than 128"),
]


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES)
async def test_put_refuses_bad_names(
    store: ArtifactStore, tmp_path: Path, name: str, problem: str
) -> None:
    (tmp_path / "a").write_text("a")
    with pytest.raises(ArtifactError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        await store.put(name, tmp_path / "a")
    assert await store.list() == []


@pytest.mark.parametrize("alias", ["../prod", "v3", "a/b", "bad\0", ""])
async def test_put_refuses_bad_aliases(store: ArtifactStore, tmp_path: Path, alias: str) -> None:
    (tmp_path / "a").write_text("a")
    with pytest.raises(ArtifactError, match="alias"):
        await store.put("model", tmp_path / "a", aliases=[alias])
    assert await store.list() == []


@pytest.mark.parametrize("reference", ["../x:v1", "/abs:latest", "x:../y", "x:v0", "x:\0"])
async def test_resolve_refuses_bad_references(store: ArtifactStore, reference: str) -> None:
    with pytest.raises(ArtifactError):
        await store.resolve(reference)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty"),
        ("a\0b", "NUL"),
        ("a\\..\\b", "'/' separators"),
        ("", "non-empty"),
    ],
)
def test_relative_paths_must_stay_inside(path: str, problem: str) -> None:
    with pytest.raises(ArtifactError, match=problem):
        check_relative_path(path)


def test_references_parse_to_versions_and_aliases() -> None:
    assert parse_reference("data") == ("data", None, "latest")
    assert parse_reference("data:v12") == ("data", 12, None)
    assert parse_reference("data:prod") == ("data", None, "prod")


async def test_manifest_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    """A folder manifest naming ``../`` paths (a tampered store) never writes outside."""
    store = FsspecArtifactStore(f"file://{tmp_path}/store")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "ok.txt").write_text("ok")
    ref = await store.put("folder", tmp_path / "f")
    manifest = json.loads(await _read_blob(store, ref.digest))
    entry = manifest["files"].pop("ok.txt")
    evil = {"format": FORMAT, "files": {"../../escaped.txt": entry}}
    evil_bytes = json.dumps(evil, sort_keys=True, separators=(",", ":")).encode()
    evil_digest, _ = store._store_blob(io.BytesIO(evil_bytes))
    record_path = tmp_path / "store" / "versions" / "folder" / "v1.json"
    record = json.loads(record_path.read_text())
    record["digest"] = evil_digest
    record_path.write_text(json.dumps(record))

    with pytest.raises(ArtifactError, match="'\\.\\.'"):
        await FsspecArtifactStore(f"file://{tmp_path}/store").fetch("folder:v1", tmp_path / "out")

    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out").exists()


async def _read_blob(store: FsspecArtifactStore, digest: str) -> bytes:
    return bytes(store.fs.cat_file(f"{store.root}/{blob_key(digest)}"))
