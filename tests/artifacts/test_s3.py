"""The fsspec store on a real S3-compatible server (moto) on loopback, through s3fs."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from jobrelay.artifacts import FsspecArtifactStore, open_store
from jobrelay.errors import IntegrityError

from .conftest import blob_key, folder_contents


@pytest.fixture
def s3_store(s3_endpoint: str) -> FsspecArtifactStore:
    import s3fs

    bucket = f"jobrelay-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True).mkdir(bucket)
    return FsspecArtifactStore(f"s3://{bucket}/artifacts", endpoint_url=s3_endpoint)


async def test_file_and_folder_round_trip_through_s3(
    s3_store: FsspecArtifactStore, sample_folder: Path, tmp_path: Path
) -> None:
    payload = os.urandom(12 * 2**20 + 5)  # larger than one read block
    (tmp_path / "data.bin").write_bytes(payload)

    file_ref = await s3_store.put("dataset", tmp_path / "data.bin", aliases=["prod"])
    folder_ref = await s3_store.put("images", sample_folder)
    same = await s3_store.put("dataset", tmp_path / "data.bin")

    assert file_ref.uri.startswith("s3://")
    assert same == file_ref
    assert (await s3_store.resolve("dataset:prod")) == file_ref
    fetched = await s3_store.fetch("dataset:latest", tmp_path / "out.bin")
    assert fetched.read_bytes() == payload
    folder = await s3_store.fetch(folder_ref, tmp_path / "images")
    assert folder_contents(folder) == folder_contents(sample_folder)
    assert not s3_store.fs.exists(f"{s3_store.root}/tmp")  # uploads were moved to blobs


async def test_changed_bytes_in_s3_fail_the_fetch(
    s3_store: FsspecArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "a").write_bytes(b"original bytes")
    ref = await s3_store.put("dataset", tmp_path / "a")
    s3_store.fs.pipe_file(f"{s3_store.root}/{blob_key(ref.digest)}", b"tampered bytes")

    with pytest.raises(IntegrityError):
        await s3_store.fetch(ref, tmp_path / "out")
    assert not (tmp_path / "out").exists()


async def test_concurrent_writers_on_s3_never_share_a_version(
    s3_store: FsspecArtifactStore, s3_endpoint: str, tmp_path: Path
) -> None:
    """Separate clients race for version numbers; S3 conditional writes pick one winner."""
    files = []
    for n in range(12):
        path = tmp_path / f"f{n}"
        path.write_text(f"content {n}")
        files.append(path)
    writers = [
        FsspecArtifactStore(s3_store.url, endpoint_url=s3_endpoint, skip_instance_cache=True)
        for _ in range(3)
    ]

    async def put_all(store: FsspecArtifactStore, mine: list[Path]) -> list[str]:
        return [(await store.put("shared", path)).digest for path in mine]

    results = await asyncio.gather(*(put_all(w, files[i::3]) for i, w in enumerate(writers)))

    versions = await open_store(s3_store.url, endpoint_url=s3_endpoint).list("shared")
    assert [ref.version for ref in versions] == [f"v{n}" for n in range(1, 13)]
    assert sorted(ref.digest for ref in versions) == sorted(
        digest for batch in results for digest in batch
    )
