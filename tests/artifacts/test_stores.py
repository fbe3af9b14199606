"""Behaviour every artifact store shares: round trips, versions, aliases, integrity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobrelay.artifacts import open_store
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.errors import ArtifactError, ArtifactNotFound, IntegrityError
from jobrelay.models import JobRef

from .conftest import blob_key, content_digest, folder_contents


def _blob_files(store: ArtifactStore) -> list[Path]:
    """The blob files of a store kept on local disk."""
    root = Path(store.root if hasattr(store, "root") else "")  # type: ignore[attr-defined]
    return [path for path in (root / "blobs").rglob("*") if path.is_file()]


def _corrupt(store: ArtifactStore, digest: str) -> None:
    """Flip one byte of the blob with ``digest``, wherever the store keeps it."""
    fs = getattr(store, "fs", None)
    if fs is not None and not getattr(store, "_local", False):
        path = f"{store.root}/{blob_key(digest)}"  # type: ignore[attr-defined]
        data = bytearray(fs.cat_file(path))
        data[0] ^= 0xFF
        fs.pipe_file(path, bytes(data))
        return
    (path,) = [p for p in _blob_files(store) if p.name == digest.partition(":")[2]]
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


async def test_file_round_trip_gives_identical_bytes(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    payload = os.urandom(9 * 2**20 + 17)  # several copy buffers, and a partial one
    source.write_bytes(payload)

    ref = await store.put("dataset", source, metadata={"rows": 3})
    fetched = await store.fetch(ref, tmp_path / "out" / "data.bin")

    assert fetched.read_bytes() == payload
    assert ref.digest == content_digest(payload)
    assert (ref.name, ref.version, ref.size, ref.type) == ("dataset", "v1", len(payload), "file")
    assert ref.metadata == {"rows": 3}
    assert ref.uri == f"{store.url}#dataset:v1"


async def test_folder_round_trip_gives_identical_tree(
    store: ArtifactStore, sample_folder: Path, tmp_path: Path
) -> None:
    ref = await store.put("images", sample_folder)
    fetched = await store.fetch("images:v1", tmp_path / "copy")

    assert ref.type == "dir"
    assert ref.size == sum(len(b) for b in folder_contents(sample_folder).values())
    assert folder_contents(fetched) == folder_contents(sample_folder)


async def test_folder_digest_depends_only_on_paths_and_bytes(
    store: ArtifactStore, sample_folder: Path, tmp_path: Path
) -> None:
    first = await store.put("images", sample_folder)
    again = await store.fetch(first, tmp_path / "again")
    second = await store.put("images", again)
    (again / "labels.csv").write_text("id,label\n1,dog\n")
    third = await store.put("images", again)

    assert second == first
    assert third.version == "v2"
    assert third.digest != first.digest


async def test_identical_content_is_one_version(store: ArtifactStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one")
    b.write_text("two")

    first = await store.put("notes", a)
    second = await store.put("notes", b)
    repeat = await store.put("notes", a)

    assert [first.version, second.version, repeat.version] == ["v1", "v2", "v1"]
    assert [ref.version for ref in await store.list("notes")] == ["v1", "v2"]
    assert (await store.resolve("notes:latest")).version == "v2"


async def test_references_resolve_to_exact_versions(store: ArtifactStore, tmp_path: Path) -> None:
    for text in ("a", "b", "c"):
        (tmp_path / text).write_text(text)
    await store.put("model", tmp_path / "a", aliases=["prod"])
    await store.put("model", tmp_path / "b", aliases=["best"])
    await store.put("model", tmp_path / "c")

    assert (await store.resolve("model")).version == "v3"
    assert (await store.resolve("model:latest")).version == "v3"
    assert (await store.resolve("model:v2")).version == "v2"
    assert (await store.resolve("model:prod")).version == "v1"
    assert (await store.resolve("model:best")).version == "v2"
    await store.put("model", tmp_path / "c", aliases=["prod"])  # same bytes: alias moves
    assert (await store.resolve("model:prod")).version == "v3"


async def test_unknown_references_raise_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    await store.put("model", tmp_path / "a")

    for reference in ("model:v2", "model:staging", "other", "other:latest"):
        with pytest.raises(ArtifactNotFound, match=reference.partition(":")[0]):
            await store.resolve(reference)


async def test_corrupt_blob_raises_and_leaves_nothing_at_destination(
    store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(100_000))
    ref = await store.put("dataset", source)
    _corrupt(store, ref.digest)
    dest = tmp_path / "out" / "data.bin"

    with pytest.raises(IntegrityError, match="dataset:v1"):
        await store.fetch(ref, dest)

    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


async def test_corrupt_file_in_folder_leaves_no_folder(
    store: ArtifactStore, sample_folder: Path, tmp_path: Path
) -> None:
    await store.put("images", sample_folder)
    _corrupt(store, content_digest((sample_folder / "labels.csv").read_bytes()))

    with pytest.raises(IntegrityError, match=r"labels\.csv"):
        await store.fetch("images:latest", tmp_path / "out" / "images")

    assert list((tmp_path / "out").iterdir()) == []


async def test_ref_with_another_digest_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    ref = await store.put("model", tmp_path / "a")
    forged = ref.model_copy(update={"digest": "sha256-4mib:" + "0" * 64})

    with pytest.raises(IntegrityError):
        await store.fetch(forged, tmp_path / "out")
    assert not (tmp_path / "out").exists()


async def test_fetch_replaces_an_existing_file(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("new bytes")
    dest = tmp_path / "dest.txt"
    dest.write_text("old")
    await store.put("notes", tmp_path / "a")

    await store.fetch("notes", dest)

    assert dest.read_text() == "new bytes"


async def test_lineage_lists_producer_and_consumers(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    producer = JobRef(platform="local:///srv", id="job-1")
    readers = [JobRef(platform="local:///srv", id=f"job-{n}") for n in (2, 3)]
    ref = await store.put("dataset", tmp_path / "a", producer=producer)
    for reader in [*readers, readers[0]]:  # recording twice is harmless
        await store.record_consumer(ref, reader)

    lineage = await store.lineage("dataset:v1")

    assert lineage.producer == producer
    assert [job.id for job in lineage.consumers] == ["job-2", "job-3"]
    assert lineage.artifact == ref


async def test_list_without_name_lists_every_artifact(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    await store.put("zeta", tmp_path / "a")
    await store.put("alpha", tmp_path / "a")
    await store.put("alpha", tmp_path / "b")

    assert [r.qualified_name for r in await store.list()] == ["alpha:v1", "alpha:v2", "zeta:v1"]


async def test_open_store_round_trips_the_url(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    ref = await store.put("notes", tmp_path / "a")

    reopened = open_store(store.url)

    assert reopened.url == store.url
    assert await reopened.resolve(ref.uri.split("#")[1]) == ref


async def test_type_dir_for_a_file_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    with pytest.raises(ArtifactError, match="is a file"):
        await store.put("notes", tmp_path / "a", type="dir")
    with pytest.raises(ArtifactError, match="not a file or folder"):
        await store.put("notes", tmp_path / "missing")


async def test_duplicate_blobs_are_stored_once(local_store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"same bytes")
    await local_store.put("first", tmp_path / "a")
    await local_store.put("second", tmp_path / "a")

    assert len(_blob_files(local_store)) == 1
