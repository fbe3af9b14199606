"""Serving an emulator in the foreground until Ctrl-C or SIGTERM, then stopping it.

Both signals end the wait the same way, and the emulator's ``stop`` then runs to the end: it
stops what the emulator started before it removes its folders, so a signal must not cut it
short. A signal that arrives while it runs is noted and otherwise ignored (the stop is
bounded by the emulator's grace period).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["serve_until_signalled"]

_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
_POLL_S = 0.1


def serve_until_signalled(alive: Callable[[], bool], stop: Callable[[], None]) -> None:
    """Block until SIGINT or SIGTERM arrives or ``alive()`` turns False, then call ``stop()``.

    In the main thread both signals are handled here until ``stop()`` returns (the previous
    handlers are put back after). Elsewhere a ``KeyboardInterrupt`` ends the wait.
    """
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            previous[sig] = signal.signal(sig, note)
    try:
        # A plain sleep loop: the handler only appends to a list, so it cannot deadlock
        # against a lock the interrupted code holds (as an Event.set() in a handler could).
        while not received and alive():
            time.sleep(_POLL_S)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
