"""Dagster's termination of a step -> a cancel of its job, then Dagster's own interrupt.

Measured on Dagster 1.13 (reference §5): terminating a run reaches the step process as a
SIGINT (SIGTERM is handled the same), which Dagster's handler turns into
``DagsterExecutionInterruptedError`` raised wherever the step's code is; Dagster never
stops a job in its own process group; and a Ctrl-C to the process group sends two SIGINTs
about 11 ms apart, the second of which can cut a cancel short. Blocking signals does not
help in the step process: it has several threads, and a signal blocked on one is taken
by another.

So while a job is waited on, :func:`termination_held` puts handlers in place that only
record the signal and ask the core's :class:`~jobrelay.integration.KillSwitch` to stop
the wait; the core cancels the job on the wait's own loop, where no second signal can
interrupt it; then the signal is handed to the handler that was there before (Dagster's),
which raises the interrupt as if it had come just now.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from dagster import DagsterExecutionInterruptedError
from jobrelay.integration import KillSwitch

__all__ = ["Termination", "termination_held"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Termination:
    """The signals received while a wait was guarded (the first one is re-delivered)."""

    def __init__(self, kill: KillSwitch) -> None:
        self.kill = kill
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _record(self, signo: int, _frame: FrameType | None) -> None:
        self.received.append(signo)
        self.kill.request()  # never blocks: safe wherever the signal lands

    def redeliver(self) -> None:
        """Raise what the handler before ours raises for the first signal received
        (Dagster's ``DagsterExecutionInterruptedError``; ``KeyboardInterrupt`` for a
        plain Python SIGINT)."""
        if not self.received:
            return
        signo = self.received[0]
        previous = self._previous.get(signo)
        if callable(previous):
            previous(signo, None)  # Dagster's handler raises its interrupt here
        raise DagsterExecutionInterruptedError


@contextlib.contextmanager
def termination_held(kill: KillSwitch) -> Iterator[Termination]:
    """Hold SIGINT/SIGTERM for ``kill`` while the body runs (main thread only: elsewhere
    no handler can be set, and an interrupt raised into the wait cancels the job anyway)."""
    termination = Termination(kill)
    if threading.current_thread() is not threading.main_thread():
        yield termination
        return
    # An ignored signal stays ignored: it would not have stopped the step either.
    termination._previous = {
        signo: handler
        for signo in _SIGNALS
        if (handler := signal.getsignal(signo)) is not signal.SIG_IGN
    }
    try:
        for signo in termination._previous:
            signal.signal(signo, termination._record)
        yield termination
    finally:
        for signo, handler in termination._previous.items():
            # None: a handler not set from Python; the default is the closest we can put back.
            signal.signal(signo, signal.SIG_DFL if handler is None else handler)
