"""Streaming copy with the digest computed in the same pass.

Every byte an artifact store moves goes through :func:`copy_hashing`, or, between two
local files, :func:`jobrelay.artifacts.filecopy.copy_file` (a kernel copy hashed as it is
written, which falls back to this one): a few fixed buffers are reused for the whole
stream, so memory stays flat however large the file is, and reading, hashing and writing
overlap so a copy runs at the speed of its slowest part.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from jobrelay.artifacts.digests import BLOCK_SIZE, ContentHasher
from jobrelay.errors import IntegrityError

__all__ = [
    "CHUNK_SIZE",
    "copy_hashing",
    "fsync_dir",
    "verify",
]

CHUNK_SIZE = BLOCK_SIZE
_BUFFERS = 4  # in flight at once in a pipelined copy: 16 MiB at most


def copy_hashing(src: IO[bytes], dst: IO[bytes] | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (or just read it when ``dst`` is None).

    Returns ``(digest, size)`` of the bytes that went through. Memory stays flat: a few
    fixed buffers are reused for the whole stream.
    """
    # Every source we open (files, BytesIO, fsspec files) has readinto.
    readinto: Callable[[memoryview], int | None] = src.readinto  # type: ignore[attr-defined]
    return _hash_chunks(readinto, () if dst is None else (dst.write,))


def _hash_chunks(
    readinto: Callable[[memoryview], int | None],
    sinks: Sequence[Callable[[memoryview], object]] = (),
) -> tuple[str, int]:
    """``(digest, size)`` of everything ``readinto`` fills buffers with, until it gives 0.

    Each filled buffer is also handed to every sink, in order (a sink must not keep it:
    the buffer is reused). For a large stream reading, hashing and each sink run in their
    own threads; ``readinto`` always runs in the calling thread.
    """
    first = memoryview(bytearray(CHUNK_SIZE))
    count = readinto(first) or 0
    if count < CHUNK_SIZE:
        # Small files (most of a folder): one thread is fastest.
        hasher = ContentHasher()
        size = 0
        while count:
            hasher.update(first[:count])
            for sink in sinks:
                sink(first[:count])
            size += count
            count = readinto(first) or 0
        return hasher.result(), size
    return _copy_pipelined(readinto, sinks, first, count)


class _Stage(threading.Thread):
    """Runs ``work`` on each filled buffer, in order, and hands the buffer back."""

    def __init__(self, work: Callable[[memoryview], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.todo: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[None] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def run(self) -> None:
        while (chunk := self.todo.get()) is not None:
            if self.error is None:
                try:
                    self.work(chunk)
                except BaseException as exc:  # re-raised by the reading thread
                    self.error = exc
            self.done.put(None)


def _copy_pipelined(
    readinto: Callable[[memoryview], int | None],
    sinks: Sequence[Callable[[memoryview], object]],
    first: memoryview,
    count: int,
) -> tuple[str, int]:
    """Read, hash and write large streams at once, each in its own thread.

    Hashing, file reads and file writes release the GIL, so a copy takes about as long as
    its slowest stage instead of the sum of all of them. Chunk i reuses buffer
    ``i % _BUFFERS`` once every stage is done with chunk ``i - _BUFFERS``.
    """
    hasher = ContentHasher()
    stages = [_Stage(hasher.update), *(_Stage(sink) for sink in sinks)]
    for stage in stages:
        stage.start()
    buffers = [first] + [memoryview(bytearray(CHUNK_SIZE)) for _ in range(_BUFFERS - 1)]
    size = index = 0
    try:
        while count and not any(stage.error for stage in stages):
            for stage in stages:
                stage.todo.put(buffers[index % _BUFFERS][:count])
            size += count
            index += 1
            if index >= _BUFFERS:
                for stage in stages:
                    stage.done.get()
            count = readinto(buffers[index % _BUFFERS]) or 0
    finally:
        for stage in stages:
            stage.todo.put(None)
        for stage in stages:
            stage.join()
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    return hasher.result(), size


def verify(what: str, got: tuple[str, int], digest: str, size: int | None) -> None:
    """Raise ``IntegrityError`` unless the ``(digest, size)`` read back is the recorded one."""
    got_digest, got_size = got
    if got_digest != digest or (size is not None and got_size != size):
        raise IntegrityError(
            f"{what} is corrupt: read {got_size} bytes with digest {got_digest}, "
            f"expected {size} bytes with digest {digest}; the stored copy was changed "
            "or damaged, put the artifact again"
        )


def fsync_dir(path: Path) -> None:
    """Make a rename or link inside ``path`` durable (a no-op where dirs cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
