"""A named pipe (``<home>/wake``) clients write a byte to so an idle agent reacts at once,
and pipes in ``<home>/watchers/`` agents write to so waiting clients see a change at once.

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

__all__ = [
    "ChangeListener",
    "WakeReader",
    "announce",
    "poke",
    "wake_path",
    "watchers_dir",
]


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


# -- the other direction: agents tell waiting clients that a job's state changed ----------
#
# Each listening client holds a named pipe in ``<home>/watchers/``; an agent that records a
# state change writes a byte to every pipe there. A pipe is created under a temporary name
# and renamed in only once its read end is open, so a pipe with no reader is one whose
# process is gone: the agent removes it. Like the wake pipe, this is a hint that cuts a
# waiter's sleep short; the waiter's own polling stays the ground truth.


def watchers_dir(home: Path) -> Path:
    return home / "watchers"


def announce(home: Path) -> None:
    """Tell every client listening on ``home`` that a job changed state. Never raises."""
    folder = watchers_dir(home)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith("."):
            continue  # still being set up
        path = folder / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no reader: its process ended without cleaning up
                with contextlib.suppress(OSError):
                    os.unlink(path)
            continue
        try:
            os.write(fd, b"!")
        except OSError:
            pass  # full: a change is already pending there
        finally:
            os.close(fd)


class ChangeListener:
    """A client's pipe in ``<home>/watchers/``; ``fileno()`` becomes readable when an agent
    announces a change. Raises ``OSError`` when the home cannot hold one."""

    def __init__(self, home: Path) -> None:
        folder = watchers_dir(home)
        folder.mkdir(mode=0o700, exist_ok=True)
        name = f"{os.getpid()}-{os.urandom(6).hex()}"
        setting_up = folder / f".{name}"
        os.mkfifo(setting_up, 0o600)
        try:
            self._read_fd = os.open(setting_up, os.O_RDONLY | os.O_NONBLOCK)
            # Our own write end keeps the pipe from reporting end-of-file after each writer.
            self._keep_fd = os.open(setting_up, os.O_WRONLY | os.O_NONBLOCK)
            self.path = folder / name
            os.rename(setting_up, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(setting_up)
            raise

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read_fd, 4096):
                pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        for fd in (self._read_fd, self._keep_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
