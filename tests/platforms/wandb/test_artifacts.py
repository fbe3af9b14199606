"""The W&B artifact store against the emulator: log, resolve, list, fetch, dedupe, integrity."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobrelay.errors import ArtifactNotFound, ConfigError, IntegrityError
from jobrelay.platforms.wandb import WandbArtifactStore
from jobrelay_emulators.wandb import WandbEmulator

from .test_digests import HELLO_B64, TWO_FILE_DIGEST, WORLD_B64


def leftovers(folder: Path) -> list[str]:
    """What a failed fetch to ``folder/out`` left behind (nothing, when it is atomic)."""
    return [p.name for p in folder.iterdir() if p.name == "out" or p.name.startswith(".out")]


def make_folder(root: Path) -> Path:
    (root / "b").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello\n")
    (root / "b" / "c.txt").write_bytes(b"world")
    return root


async def test_logged_folder_has_the_reference_digest_and_fetches_byte_identical(
    store: WandbArtifactStore, tmp_path: Path
) -> None:
    src = make_folder(tmp_path / "src")
    ref = await store.put("dataset", src, type="dataset", aliases=["best"])
    assert ref.version == "v0"
    assert ref.digest == f"manifest_md5:{TWO_FILE_DIGEST}"
    assert ref.size == 11
    resolved = await store.resolve("dataset:best")
    assert resolved.uri == ref.uri
    out = await store.fetch("dataset:latest", tmp_path / "out")
    assert (out / "a.txt").read_bytes() == b"hello\n"
    assert (out / "b" / "c.txt").read_bytes() == b"world"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.txt",
        "b/c.txt",
    ]


async def test_uploaded_manifest_carries_md5_digests_and_birth_artifact(
    store: WandbArtifactStore, emulator: WandbEmulator, tmp_path: Path
) -> None:
    import json

    await store.put("dataset", make_folder(tmp_path / "src"))
    manifests = [v for k, v in emulator.world.blobs.items() if k.startswith("artifact_manifests/")]
    assert len(manifests) == 1
    contents = json.loads(manifests[0])["contents"]
    assert contents["a.txt"]["digest"] == HELLO_B64
    assert contents["b/c.txt"]["digest"] == WORLD_B64
    assert contents["a.txt"]["size"] == 6
    assert contents["a.txt"]["birthArtifactID"]


async def test_single_file_round_trips_to_a_file(store: WandbArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) * 100)
    ref = await store.put("model", src)
    out = await store.fetch(ref, tmp_path / "fetched.bin")
    assert out.read_bytes() == src.read_bytes()


async def test_identical_content_dedupes_and_latest_stays(
    store: WandbArtifactStore, tmp_path: Path
) -> None:
    first = await store.put("dataset", make_folder(tmp_path / "one"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("new")
    second = await store.put("dataset", tmp_path / "other")
    again = await store.put("dataset", make_folder(tmp_path / "two"), aliases=["gold"])
    assert again.version == first.version == "v0"
    assert second.version == "v1"
    assert (await store.resolve("dataset:latest")).version == "v1"
    assert (await store.resolve("dataset:gold")).version == "v0"
    assert [r.version for r in await store.list("dataset")] == ["v0", "v1"]


async def test_wrong_md5_from_storage_is_an_integrity_error_and_leaves_nothing(
    store: WandbArtifactStore, emulator: WandbEmulator, tmp_path: Path
) -> None:
    ref = await store.put("dataset", make_folder(tmp_path / "src"))
    # The manifest download (the first storage GET) is served intact; the file after it is
    # served with one byte flipped, so its MD5 no longer matches the manifest.
    emulator.faults.add("storage.GET", "slow", delay_s=0)
    emulator.faults.add("storage.GET", "corrupt")
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError, match="MD5"):
        await store.fetch(ref, dest)
    assert leftovers(tmp_path) == []


async def test_storage_requests_carry_no_wandb_credentials(
    store: WandbArtifactStore, emulator: WandbEmulator, tmp_path: Path
) -> None:
    await store.put("dataset", make_folder(tmp_path / "src"))
    await store.fetch("dataset:v0", tmp_path / "out")
    methods = {r.method for r in emulator.storage_requests}
    assert methods == {"GET", "PUT"}
    assert emulator.storage_leaks == []


async def test_unknown_artifact_is_not_found_naming_it(store: WandbArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound, match="emulator/proj/nothing:latest"):
        await store.resolve("nothing")


@pytest.mark.parametrize("path", ["a/b/c/d:latest", "name:", "bad name:v0", "x:al/ias"])
async def test_malformed_artifact_path_is_a_config_error(
    store: WandbArtifactStore, path: str
) -> None:
    with pytest.raises(ConfigError, match="artifact"):
        await store.resolve(path)
