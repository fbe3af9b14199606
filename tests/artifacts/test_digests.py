"""The content digest: one value however the bytes arrive, hashed on any number of threads."""

from __future__ import annotations

import errno
import hashlib
import os
import random
from pathlib import Path

import pytest
from jobrelay.artifacts import digests
from jobrelay.artifacts.digests import BLOCK_SIZE, WINDOW, ContentHasher, digest_bytes, digest_hex
from jobrelay.errors import ArtifactError

from .conftest import content_digest

SIZES = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, WINDOW, 3 * WINDOW + BLOCK_SIZE + 5]


def test_the_format_is_sha256_of_block_sha256s() -> None:
    # Nothing: SHA-256 of no block digests, the well-known digest of the empty string.
    assert digest_bytes(b"") == (
        "sha256-4mib:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    # One short block: SHA-256 of SHA-256("abc"), whose value is the FIPS 180-2 example.
    inner = bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert hashlib.sha256(b"abc").digest() == inner
    assert digest_bytes(b"abc") == "sha256-4mib:" + hashlib.sha256(inner).hexdigest()


@pytest.mark.parametrize("size", SIZES)
def test_pieces_of_any_size_give_the_digest_of_the_whole(size: int) -> None:
    data = os.urandom(size)
    pieces = random.Random(size)
    hasher = ContentHasher()
    offset = 0
    while offset < size:
        step = pieces.choice([1, 4095, BLOCK_SIZE - 3, BLOCK_SIZE, 2 * BLOCK_SIZE + 7])
        hasher.update(memoryview(data)[offset : offset + step])
        offset += step

    assert hasher.result() == content_digest(data)


@pytest.mark.parametrize("hashers", [1, 2, 3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_a_file_hashed_on_several_threads_gives_the_same_digest(
    size: int, hashers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "_HASHERS", hashers)
    data = os.urandom(size)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    assert digests.hash_file(path) == (content_digest(data), size)


def test_a_file_that_cannot_be_mapped_is_read_block_by_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_map(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(digests.mmap, "mmap", cannot_map)
    data = os.urandom(WINDOW + BLOCK_SIZE + 9)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    assert digests.hash_file(path) == (content_digest(data), len(data))


def test_a_failing_writer_fails_the_hash_on_every_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "_HASHERS", 3)
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * WINDOW))

    def available(offset: int) -> int:
        if offset > WINDOW:
            raise OSError(errno.ENOSPC, "No space left on device")
        return offset

    with open(path, "rb", buffering=0) as src, pytest.raises(OSError, match="No space left"):
        digests.hash_windows(src.fileno(), available, size_hint=3 * WINDOW)


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "0" * 64, "sha256-4mib:" + "0" * 63, "sha256-4mib:" + "A" * 64, "md5:00", ""],
)
def test_anything_but_a_digest_is_refused(digest: str) -> None:
    with pytest.raises(ArtifactError, match="expected sha256-4mib:<64 hex digits>"):
        digest_hex(digest)


def test_a_file_that_shrinks_while_hashed_is_an_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(2 * WINDOW))
    real_fstat = os.fstat

    def size_before_truncation(fd: int) -> os.stat_result:
        result = real_fstat(fd)
        path.write_bytes(b"short now")  # another process truncates it after the size was read
        return os.stat_result((*result[:6], 2 * WINDOW, *result[7:10]))

    monkeypatch.setattr(digests.os, "fstat", size_before_truncation)

    with pytest.raises(OSError, match="shorter than it was"):
        digests.hash_file(path)


def test_tables_show_the_algorithm_and_ten_hex_digits() -> None:
    assert digests.short_digest("sha256-4mib:" + "0123456789abcdef" * 4) == (
        "sha256-4mib:0123456789"
    )
    assert digests.short_digest("manifest_md5:" + "f" * 32) == "manifest_md5:ffffffffff"
