"""Copy a local file into a new local file, in the kernel, hashing what was written.

Between two local files the copy itself is cheap: ``copy_file_range`` (or ``sendfile``)
moves the bytes inside the kernel at page-cache speed, without a trip through Python
buffers. Hashing is the slow part (SHA-256 runs at about 1.7 GB/s a core with SHA-NI,
half the speed of ``cp``). So :func:`copy_file` runs both at once:

* a copier thread copies the source into the destination in the kernel, chunk by chunk,
  and for a durable copy starts writing each chunk to disk as soon as it is copied, then
  ``fsync``-s once at the end, while the hash is still running;
* the calling thread and one helper thread per further core hash what the copier wrote,
  window by window (:func:`~jobrelay.artifacts.digests.hash_windows`), straight from the
  page cache (mapped read-only, so the bytes are not even copied into a buffer).

The wall time is about that of the slower part instead of the sum.

Why hash the destination and not the source: the digest a put records, and the digest a
fetch checks, must describe the bytes that end up in the blob or at the fetched path. The
kernel copy and the hash would otherwise read the source separately, and a source that
changes between the two reads (a job still writing its output, a blob damaged under a
fetch) would yield a copy whose bytes differ from the digest that vouches for them.
Hashing the copy reads it from the page cache, where the copier just put it: it never
touches the disk, and it is the only pass the hash makes.

When the kernel cannot copy between the two files (another filesystem, an old kernel,
a platform without ``copy_file_range``), :func:`copy_file` streams through
:func:`~jobrelay.artifacts.streams.copy_hashing` instead: same bytes, same digest.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from jobrelay.artifacts.digests import hash_windows
from jobrelay.artifacts.streams import copy_hashing

__all__ = ["copy_file", "kernel_copy_hashing"]

# Bytes per kernel call: large enough that syscalls cost nothing, small enough that the
# hash is never far behind and that cancelling stops soon.
_KERNEL_CHUNK = 16 * 2**20
# What copy_file_range or sendfile raise, before copying anything, when they cannot copy
# between these two files; anything else (or any error later) is a real I/O error.
_UNSUPPORTED = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.EPERM}
)


class _Progress:
    """How far the copier got, shared with the hashing thread under one condition."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.copied = 0
        self.finished = False
        self.cancelled = False
        self.error: BaseException | None = None

    def advance(self, count: int) -> None:
        with self.changed:
            self.copied += count
            self.changed.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self.changed:
            self.finished = True
            self.error = error
            self.changed.notify_all()

    def wait_for(self, offset: int) -> int:
        """Block until ``offset`` bytes are copied or the copy ended; how many are."""
        with self.changed:
            self.changed.wait_for(lambda: self.copied >= offset or self.finished)
            if self.error is not None:
                raise self.error
            return self.copied


def copy_file(src: IO[bytes], dest: Path, *, durable: bool) -> tuple[str, int]:
    """Copy ``src`` (from its current position) into the new file ``dest``.

    ``dest`` is created exclusively; with ``durable`` it is ``fsync``-ed before this
    returns. Returns ``(digest, size)`` of the bytes written to ``dest``. A plain local
    file is copied in the kernel (see the module docstring); any other stream, or a pair
    of files the kernel cannot copy between, goes through the buffered streaming copy.
    """
    with open(dest, "x+b") as out:
        fd = _plain_file_fd(src)
        got = None
        if fd is not None:
            got = kernel_copy_hashing(fd, src.tell(), out.fileno(), durable=durable)
        if got is None:
            got = copy_hashing(src, out)
            out.flush()
            if durable:
                os.fsync(out.fileno())
    return got


def kernel_copy_hashing(src: int, start: int, dst: int, *, durable: bool) -> tuple[str, int] | None:
    """Copy ``src`` from offset ``start`` to the empty file ``dst`` (open for reading too).

    Returns ``(digest, size)`` of what was written to ``dst``, or ``None`` when the kernel
    cannot copy between these two files and nothing was written (fall back to a buffered
    copy then). ``durable`` fsyncs ``dst`` before returning. File positions are not moved,
    except that of ``dst`` after a ``sendfile`` copy.
    """
    copy = _first_copy(src, start, dst)
    if copy is None:
        return None
    copier_fn, first = copy
    progress = _Progress()
    progress.advance(first)
    copier = threading.Thread(
        target=_run_copier, args=(copier_fn, src, start, dst, first, durable, progress)
    )
    copier.daemon = True
    copier.start()
    try:
        got = hash_windows(dst, progress.wait_for, size_hint=os.fstat(src).st_size - start)
    finally:
        progress.cancelled = True  # stops a copier still running after an error here
        copier.join()
    if progress.error is not None:
        raise progress.error
    return got


_Copier = Callable[[int, int, int, int, int], int]


def _copy_file_range(src: int, dst: int, src_offset: int, dst_offset: int, count: int) -> int:
    return os.copy_file_range(src, dst, count, src_offset, dst_offset)


def _sendfile(src: int, dst: int, src_offset: int, dst_offset: int, count: int) -> int:
    # sendfile writes at dst's position, which only this copy moves: it equals dst_offset.
    return os.sendfile(dst, src, src_offset, count)


def _first_copy(src: int, start: int, dst: int) -> tuple[_Copier, int] | None:
    """The kernel copy that works for these files and the bytes its first call copied.

    None when neither works. A first call that copies nothing although the source has
    bytes left (some filesystems answer so instead of failing) counts as not working.
    """
    remaining = os.fstat(src).st_size - start
    copiers: list[_Copier] = []
    if hasattr(os, "copy_file_range"):
        copiers.append(_copy_file_range)
    if hasattr(os, "sendfile"):
        copiers.append(_sendfile)
    for copier in copiers:
        try:
            count = copier(src, dst, start, 0, _KERNEL_CHUNK)
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                continue
            raise
        if count > 0 or remaining <= 0:
            return copier, count
    return None


def _run_copier(
    copier: _Copier,
    src: int,
    start: int,
    dst: int,
    copied: int,
    durable: bool,
    progress: _Progress,
) -> None:
    try:
        synced = 0
        while not progress.cancelled:
            count = copier(src, dst, start + copied, copied, _KERNEL_CHUNK)
            if not count:
                break
            copied += count
            progress.advance(count)
            if durable:
                synced = _start_writeback(dst, synced, copied)
        if durable and not progress.cancelled:
            os.fsync(dst)
    except BaseException as exc:  # re-raised by the hashing (calling) thread
        progress.finish(exc)
    else:
        progress.finish()


def _start_writeback(fd: int, start: int, end: int) -> int:
    """Queue ``fd``'s bytes in ``[start, end)`` for writing to disk now, without waiting.

    The final fsync then finds most bytes already written instead of writing them all
    after the copy, so a durable copy is not (copy time + disk write time) long. Returns
    the offset written up to; a no-op where ``sync_file_range`` does not exist.
    """
    if _sync_file_range is None or end - start < _KERNEL_CHUNK:
        return start
    _sync_file_range(fd, start, end - start, _SYNC_FILE_RANGE_WRITE)  # errors: fsync reports
    return end


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2  # from <fcntl.h>: start writeback of dirty pages, do not wait
_sync_file_range = _load_sync_file_range()


def _plain_file_fd(src: IO[bytes]) -> int | None:
    """The descriptor of ``src`` if it is a plain local regular file, else None.

    Only the stdlib's own file objects qualify: a wrapper's ``fileno`` (a gzip stream's,
    say) can name a file whose bytes are not the ones the wrapper reads.
    """
    raw = src.raw if isinstance(src, io.BufferedReader | io.BufferedRandom) else src
    if not isinstance(raw, io.FileIO) or raw.closed:
        return None
    fd = raw.fileno()
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
