"""Staging copies a version into another store once per digest; open_store picks stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobrelay.artifacts import (
    FsspecArtifactStore,
    LocalArtifactStore,
    open_store,
    prepare_inputs,
    stage,
)
from jobrelay.errors import ArtifactError
from jobrelay.models import JobRef

from .conftest import folder_contents


async def test_stage_copies_into_the_target_once_per_digest(
    local_store: LocalArtifactStore, tmp_path: Path
) -> None:
    target = FsspecArtifactStore(f"memory://staging/{tmp_path.name}")
    (tmp_path / "a").write_bytes(b"training data")
    producer = JobRef(platform="local:///srv", id="job-1")
    source_ref = await local_store.put("dataset", tmp_path / "a", producer=producer)

    staged = await stage("dataset:latest", local_store, target)
    # Wipe the source's blobs: a second stage that read from the source would now fail.
    for blob in (local_store.root / "blobs").rglob("*"):
        if blob.is_file():
            os.chmod(blob, 0o644)
            blob.unlink()
    again = await stage(source_ref, local_store, target)

    assert again == staged
    assert staged.digest == source_ref.digest
    assert staged.producer == producer
    assert staged.metadata["jobrelay.staged_from"] == source_ref.uri
    assert [ref.version for ref in await target.list("dataset")] == ["v1"]
    assert (await target.fetch(staged, tmp_path / "out")).read_bytes() == b"training data"


async def test_stage_keeps_folders_whole(
    local_store: LocalArtifactStore, tmp_path: Path, sample_folder: Path
) -> None:
    target = FsspecArtifactStore(f"file://{tmp_path}/target")
    ref = await local_store.put("images", sample_folder)

    staged = await stage(ref, local_store, target)

    assert (staged.type, staged.digest) == ("dir", ref.digest)
    fetched = await target.fetch(staged, tmp_path / "copy")
    assert folder_contents(fetched) == folder_contents(sample_folder)


async def test_prepare_inputs_stages_a_uri_from_another_store(
    local_store: LocalArtifactStore, tmp_path: Path
) -> None:
    elsewhere = FsspecArtifactStore(f"file://{tmp_path}/elsewhere")
    (tmp_path / "a").write_text("remote bytes")
    remote = await elsewhere.put("dataset", tmp_path / "a")

    env = await prepare_inputs({"data": remote.uri}, local_store, tmp_path / "job")

    staged = await local_store.resolve("dataset")
    assert staged.digest == remote.digest
    assert staged.uri in env["JOBRELAY_INPUTS"]


def test_open_store_maps_urls_to_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_HOME", str(tmp_path / "home"))

    default = open_store("local://")
    home = open_store(f"local://{tmp_path}/srv")
    plain = open_store(str(tmp_path / "plain"))
    fsspec_store = open_store(f"file://{tmp_path}/fs")

    assert isinstance(default, LocalArtifactStore)
    assert default.root == tmp_path / "home" / "artifacts"
    assert isinstance(home, LocalArtifactStore)
    assert home.root == tmp_path / "srv" / "artifacts"
    assert home.url == f"local://{tmp_path}/srv"
    assert isinstance(plain, LocalArtifactStore)
    assert plain.url == str(tmp_path / "plain")
    assert isinstance(fsspec_store, FsspecArtifactStore)
    assert fsspec_store.url == f"file://{tmp_path}/fs"


def test_open_store_refuses_unknown_protocols() -> None:
    with pytest.raises(ArtifactError, match="nosuchproto"):
        open_store("nosuchproto://bucket/x")
