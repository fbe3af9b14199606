"""Stores shared by several processes: racing writers and a writer killed mid-put."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from jobrelay.artifacts import FsspecArtifactStore, LocalArtifactStore, open_store
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.localfs import _HOST, sweep_stale_temps, temp_name
from jobrelay.errors import ArtifactNotFound
from jobrelay.models import ArtifactRef

WORKER = Path(__file__).with_name("put_worker.py")


def _disk_store(kind: str, tmp_path: Path) -> LocalArtifactStore | FsspecArtifactStore:
    if kind == "local":
        return LocalArtifactStore(tmp_path / "home" / "artifacts")
    return FsspecArtifactStore(f"file://{tmp_path}/fsspec-store")


def _spawn(url: str, name: str, files: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, name, *map(str, files)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _race(url: str, name: str, batches: list[list[Path]]) -> list[ArtifactRef]:
    """Start one worker per batch, release them together, return every ref they made."""
    workers = [_wait_ready(proc) for proc in [_spawn(url, name, files) for files in batches]]
    for proc in workers:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    refs: list[ArtifactRef] = []
    for proc in workers:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        refs += [ArtifactRef.model_validate(json.loads(line)) for line in out.splitlines()]
    return refs


def _files(folder: Path, prefix: str, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"{prefix}{n}.bin"
        path.write_bytes(f"{prefix}-{n}-".encode() * 5000)
        paths.append(path)
    return paths


async def _assert_consistent(store: ArtifactStore, name: str, tmp_path: Path) -> list[ArtifactRef]:
    """Versions are v1..vN without gaps, each fetches and verifies, latest is the last."""
    versions = await store.list(name)
    assert [ref.version for ref in versions] == [f"v{n}" for n in range(1, len(versions) + 1)]
    for ref in versions:
        await store.fetch(ref, tmp_path / "check" / ref.version)
    assert (await store.resolve(f"{name}:latest")) == versions[-1]
    return versions


@pytest.mark.parametrize("kind", ["local", "file"])
async def test_racing_writers_with_different_content_get_distinct_versions(
    kind: str, tmp_path: Path
) -> None:
    store = _disk_store(kind, tmp_path)
    # Enough puts each that the workers' claims on the next number do collide.
    batches = [_files(tmp_path / "src", "a", 20), _files(tmp_path / "src", "b", 20)]

    refs = _race(store.url, "shared", batches)

    versions = await _assert_consistent(open_store(store.url), "shared", tmp_path)
    assert len(versions) == 40
    assert sorted(ref.version for ref in refs) == sorted(ref.version for ref in versions)
    assert {ref.digest for ref in refs} == {ref.digest for ref in versions}


@pytest.mark.parametrize("kind", ["local", "file"])
async def test_racing_writers_with_identical_content_share_versions(
    kind: str, tmp_path: Path
) -> None:
    store = _disk_store(kind, tmp_path)
    same = _files(tmp_path / "src", "same", 8)

    refs = _race(store.url, "shared", [same, same, same])

    versions = await _assert_consistent(open_store(store.url), "shared", tmp_path)
    assert len(versions) == 8
    by_digest = {ref.digest: ref.version for ref in versions}
    assert all(by_digest[ref.digest] == ref.version for ref in refs)


def _temp_files(store: LocalArtifactStore | FsspecArtifactStore) -> list[Path]:
    tmp = Path(str(store.root)) / "tmp"
    return [path for path in tmp.iterdir()] if tmp.is_dir() else []


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[Path]:
    """A 256 MiB file, deleted with everything else under ``tmp_path`` afterwards."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        chunk = os.urandom(2**20)
        for _ in range(256):
            out.write(chunk)
    yield big
    shutil.rmtree(tmp_path, ignore_errors=True)  # pytest keeps old tmp dirs; these are large


@pytest.mark.parametrize("kind", ["local", "file"])
async def test_writer_killed_mid_put_leaves_no_partial_version(
    kind: str, tmp_path: Path, big_file: Path
) -> None:
    store = _disk_store(kind, tmp_path)
    big = big_file
    (tmp_path / "small").write_text("kept")
    kept = await store.put("big", tmp_path / "small")

    proc = _wait_ready(_spawn(store.url, "big", [big]))
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not any(p.stat().st_size > 8 * 2**20 for p in _temp_files(store)):
        assert proc.poll() is None, "the put finished before it could be killed"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes its pipes

    reopened = open_store(store.url)
    assert await reopened.list("big") == [kept]
    assert await reopened.resolve("big:latest") == kept
    with pytest.raises(ArtifactNotFound):
        await reopened.resolve("big:v2")
    assert _temp_files(store), "the killed put should have left its temp file behind"

    ref = await reopened.put("big", big)

    assert ref.version == "v2"
    assert ref.size == 256 * 2**20
    assert _temp_files(store) == []  # the dead process's temp file was swept
    await _assert_consistent(reopened, "big", tmp_path)


def test_sweeping_removes_temps_of_dead_writers_only(tmp_path: Path) -> None:
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    while psutil.Process(writer.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped
        time.sleep(0.01)
    dead = tmp_dir / f"{_HOST}.{writer.pid}.{'a' * 32}.tmp"
    alive = tmp_dir / temp_name()  # this process's: a put still running
    foreign = tmp_dir / "otherhost.1.b.tmp"  # another host's process cannot be checked here
    for path in (dead, alive, foreign):
        path.write_bytes(b"partial")

    assert sweep_stale_temps(tmp_dir) == 1

    writer.wait()
    assert sorted(p.name for p in tmp_dir.iterdir()) == sorted([alive.name, foreign.name])
