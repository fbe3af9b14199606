"""The kernel copy of local files: same bytes and digest as the buffered copy, or a fallback."""

from __future__ import annotations

import errno
import io
import mmap
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from jobrelay.artifacts import digests, filecopy
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.artifacts.filecopy import copy_file, kernel_copy_hashing
from jobrelay.artifacts.streams import CHUNK_SIZE
from jobrelay.errors import IntegrityError

from .conftest import blob_key, content_digest, make_store

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 5 * CHUNK_SIZE + 3]


def _source(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path, data


class _CallCounter:
    """Wraps an ``os`` function, counting calls and optionally failing them."""

    def __init__(self, real: Callable[..., int], fail: int | None = None) -> None:
        self.real = real
        self.fail = fail
        self.calls = 0

    def __call__(self, *args: object) -> int:
        self.calls += 1
        if self.fail is not None:
            raise OSError(self.fail, os.strerror(self.fail))
        return self.real(*args)


@pytest.mark.parametrize("size", SIZES)
def test_kernel_copy_and_buffered_copy_give_the_same_bytes_and_digest(
    size: int, tmp_path: Path
) -> None:
    path, data = _source(tmp_path, size)

    with open(path, "rb", buffering=0) as src:
        kernel = copy_file(src, tmp_path / "kernel.bin", durable=True)
    buffered = copy_file(io.BytesIO(data), tmp_path / "buffered.bin", durable=True)

    assert kernel == buffered == (content_digest(data), size)
    assert (tmp_path / "kernel.bin").read_bytes() == data
    assert (tmp_path / "buffered.bin").read_bytes() == data


def test_a_plain_file_is_copied_in_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, 3 * CHUNK_SIZE)
    spy = _CallCounter(os.copy_file_range)
    monkeypatch.setattr(os, "copy_file_range", spy)

    with open(path, "rb") as src:  # buffered readers of plain files qualify too
        got = copy_file(src, tmp_path / "out.bin", durable=False)

    assert spy.calls >= 1
    assert got == (content_digest(data), len(data))


@pytest.mark.parametrize("size", SIZES)
def test_sendfile_is_used_when_copy_file_range_is_unsupported(
    size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, size)
    monkeypatch.setattr(os, "copy_file_range", _CallCounter(os.copy_file_range, errno.EXDEV))
    sendfile = _CallCounter(os.sendfile)
    monkeypatch.setattr(os, "sendfile", sendfile)

    with open(path, "rb", buffering=0) as src:
        got = copy_file(src, tmp_path / "out.bin", durable=True)

    assert sendfile.calls >= 1
    assert got == (content_digest(data), size)
    assert (tmp_path / "out.bin").read_bytes() == data


@pytest.mark.parametrize("size", SIZES)
def test_buffered_copy_is_the_fallback_when_the_kernel_cannot_copy(
    size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, size)
    monkeypatch.setattr(os, "copy_file_range", _CallCounter(os.copy_file_range, errno.ENOSYS))
    monkeypatch.setattr(os, "sendfile", _CallCounter(os.sendfile, errno.EINVAL))

    with open(path, "rb", buffering=0) as src:
        got = copy_file(src, tmp_path / "out.bin", durable=True)

    assert got == (content_digest(data), size)
    assert (tmp_path / "out.bin").read_bytes() == data


def test_the_copy_is_hashed_by_reading_where_files_cannot_be_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, 2 * digests.WINDOW + 5)

    def cannot_map(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(mmap, "mmap", cannot_map)

    with open(path, "rb", buffering=0) as src:
        got = copy_file(src, tmp_path / "out.bin", durable=False)

    assert got == (content_digest(data), len(data))
    assert (tmp_path / "out.bin").read_bytes() == data


def test_kernel_copy_declines_without_writing_when_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _source(tmp_path, CHUNK_SIZE)
    monkeypatch.setattr(os, "copy_file_range", _CallCounter(os.copy_file_range, errno.EXDEV))
    monkeypatch.setattr(os, "sendfile", _CallCounter(os.sendfile, errno.EOPNOTSUPP))
    out = tmp_path / "out.bin"

    with open(path, "rb", buffering=0) as src, open(out, "x+b") as dst:
        got = kernel_copy_hashing(src.fileno(), 0, dst.fileno(), durable=False)

    assert got is None
    assert out.stat().st_size == 0


def test_copy_starts_at_the_source_position(tmp_path: Path) -> None:
    path, data = _source(tmp_path, 2 * CHUNK_SIZE + 5)

    with open(path, "rb", buffering=0) as src:
        src.seek(CHUNK_SIZE + 1)
        got = copy_file(src, tmp_path / "out.bin", durable=False)

    assert got == (content_digest(data[CHUNK_SIZE + 1 :]), len(data) - CHUNK_SIZE - 1)
    assert (tmp_path / "out.bin").read_bytes() == data[CHUNK_SIZE + 1 :]


def test_an_io_error_mid_copy_is_raised_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _source(tmp_path, 4 * filecopy._KERNEL_CHUNK)
    real = os.copy_file_range
    calls = 0

    def fills_up(*args: int) -> int:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, "copy_file_range", fills_up)

    with open(path, "rb", buffering=0) as src, pytest.raises(OSError, match="No space left"):
        copy_file(src, tmp_path / "out.bin", durable=True)


def test_a_durable_copy_is_fsynced_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _source(tmp_path, 3 * filecopy._KERNEL_CHUNK + 1)
    fsync = _CallCounter(os.fsync)
    monkeypatch.setattr(os, "fsync", fsync)

    with open(path, "rb", buffering=0) as src:
        copy_file(src, tmp_path / "durable.bin", durable=True)
    assert fsync.calls == 1
    with open(path, "rb", buffering=0) as src:
        copy_file(src, tmp_path / "plain.bin", durable=False)
    assert fsync.calls == 1


def test_memory_stays_flat_for_a_large_copy(tmp_path: Path) -> None:
    path, _ = _source(tmp_path, 64 * 2**20)

    tracemalloc.start()
    try:
        with open(path, "rb", buffering=0) as src:
            copy_file(src, tmp_path / "out.bin", durable=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 24 * 2**20  # a few reused buffers, never the file


# -- through the stores ------------------------------------------------------------------


@pytest.fixture(params=["local", "file"])
def disk_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """The two stores whose blobs are local files, so put and fetch copy in the kernel."""
    return make_store(request.param, tmp_path)


async def test_local_stores_put_and_fetch_in_the_kernel(
    disk_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, 3 * CHUNK_SIZE + 7)
    spy = _CallCounter(os.copy_file_range)
    monkeypatch.setattr(os, "copy_file_range", spy)

    ref = await disk_store.put("data", path)
    after_put = spy.calls
    fetched = await disk_store.fetch(ref, tmp_path / "out" / "data.bin")

    assert after_put >= 1
    assert spy.calls > after_put
    assert ref.digest == content_digest(data)
    assert fetched.read_bytes() == data


async def test_stores_give_the_same_digest_with_and_without_the_kernel_copy(
    disk_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = _source(tmp_path, 2 * CHUNK_SIZE + 1)
    kernel_ref = await disk_store.put("kernel", path)
    monkeypatch.setattr(os, "copy_file_range", _CallCounter(os.copy_file_range, errno.EXDEV))
    monkeypatch.setattr(os, "sendfile", _CallCounter(os.sendfile, errno.EINVAL))

    buffered_ref = await disk_store.put("buffered", path)
    fetched = await disk_store.fetch(kernel_ref, tmp_path / "out.bin")

    assert kernel_ref.digest == buffered_ref.digest == content_digest(data)
    assert fetched.read_bytes() == data


async def test_a_blob_corrupt_in_its_last_byte_leaves_nothing_at_the_destination(
    disk_store: ArtifactStore, tmp_path: Path
) -> None:
    path, _ = _source(tmp_path, 5 * CHUNK_SIZE + 3)
    ref = await disk_store.put("data", path)
    root = Path(str(disk_store.root))  # type: ignore[attr-defined]
    blob = root / blob_key(ref.digest)
    blob.chmod(0o644)
    with open(blob, "r+b") as damaged:  # found only once every byte was copied and hashed
        damaged.seek(-1, os.SEEK_END)
        last = damaged.read(1)
        damaged.seek(-1, os.SEEK_END)
        damaged.write(bytes([last[0] ^ 0xFF]))
    dest = tmp_path / "out" / "data.bin"

    with pytest.raises(IntegrityError, match="data:v1"):
        await disk_store.fetch(ref, dest)

    assert list(dest.parent.iterdir()) == []
