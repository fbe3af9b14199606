"""A named pipe (``<home>/wake``) clients write a byte to so an idle agent reacts at once.

The pipe is only a hint: agents poll the database too, so a lost wake-up costs latency,
never correctness. Writing never blocks: with no agent reading, ``open`` fails with ENXIO
and the byte is simply not sent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

__all__ = ["WakeReader", "poke", "wake_path"]


def wake_path(home: Path) -> Path:
    return home / "wake"


def poke(home: Path) -> None:
    """Wake the agents of ``home``, if any is listening. Never blocks, never raises."""
    try:
        fd = os.open(wake_path(home), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no pipe yet, or no reader (ENXIO): nobody to wake
    try:
        os.write(fd, b"!")
    except OSError:
        pass  # the pipe is full: a wake-up is already pending
    finally:
        os.close(fd)


class WakeReader:
    """The agent's end of the wake pipe; ``fileno()`` becomes readable on a poke."""

    def __init__(self, home: Path) -> None:
        path = wake_path(home)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a named pipe")
        self._read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Holding a write end ourselves keeps the pipe from reporting end-of-file (and
        # waking the event loop forever) whenever the last client closes its end.
        self._keep_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> None:
        """Discard pending wake-up bytes."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 4096):
                pass

    def close(self) -> None:
        for fd in (self._read_fd, self._keep_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
