"""A kill handed from a signal handler to the wait it stops, and what it raises.

Kept apart from :mod:`jobrelay.integration.bridge` (which runs the wait and its cancel) and
free of the client: an Airflow operator makes its :class:`KillSwitch` as a DAG file is
parsed, and parsing must not import the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jobrelay.errors import JobRelayError

if TYPE_CHECKING:
    from jobrelay.models import JobRef

__all__ = ["Interrupted", "KillSwitch", "Killed"]

T = TypeVar("T")


class Interrupted(Exception):
    """The guarded call was stopped by :meth:`KillSwitch.request`."""


class Killed(JobRelayError):
    """The task was killed; ``ref`` is its job (None before it was submitted) and
    ``cancelled`` says whether the job was cancelled."""

    def __init__(self, ref: JobRef | None, *, cancelled: bool) -> None:
        self.ref = ref
        self.cancelled = cancelled
        if ref is None:
            message = "the task was killed before its job was submitted"
        elif cancelled:
            message = f"the task was killed; job {ref.id} was cancelled"
        else:
            message = f"the task was killed; job {ref.id} keeps running"
        super().__init__(message)


class KillSwitch:
    """A kill handed from a signal handler to the call running on the same thread."""

    def __init__(self) -> None:
        self.requested = False
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    def request(self) -> bool:
        """Stop the guarded call running now, or the next one. Safe in a signal handler.

        Returns True when a guarded call was running: it stops once the handler returns.
        """
        self.requested = True
        running = self._running
        if running is None:
            return False
        # No locks taken: a deque append and a byte on the loop's self-pipe. A loop that
        # closed as the call ended raises RuntimeError: nothing is left to stop.
        with contextlib.suppress(RuntimeError):
            running[0].call_soon_threadsafe(self._stop_running)
        return True

    def _stop_running(self) -> None:
        # On the loop's thread: cancel only a call still guarded, never the cleanup after it.
        if self._running is not None:
            self._running[1].cancel()

    async def guard(self, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()``; raises :class:`Interrupted` if a request comes before or during."""
        task = asyncio.current_task()
        assert task is not None
        self._running = (asyncio.get_running_loop(), task)
        try:
            if self.requested:  # checked after publishing the task: no request is missed
                raise Interrupted
            return await work()
        except asyncio.CancelledError:
            if not self.requested:
                raise
            task.uncancel()
            raise Interrupted from None
        finally:
            self._running = None
