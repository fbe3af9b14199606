"""Run core calls from a worker, which has no event loop of its own, and stop them on a kill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from jobrelay import AsyncClient, JobRef

    from airflow_jobrelay.hooks import JobRelayHook

__all__ = ["Interrupt", "Interrupted", "fail_after_kill", "run_with_client", "until_killed"]

T = TypeVar("T")


class _Log(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class Interrupted(Exception):
    """The call was stopped by :meth:`Interrupt.request`."""


class Interrupt:
    """A kill handed from a signal handler to the call running on the same thread.

    Airflow calls ``on_kill`` from its SIGTERM handler, on the worker's main thread, at
    whatever point the task had reached: perhaps inside a thread start or a log write,
    holding a lock that any other thread needs. Cancelling the job right there (through
    another thread and event loop) can wait on that lock forever. So the handler only
    calls :meth:`request`, which never blocks; the guarded call stops once the handler has
    returned, and its caller cancels the job on its own loop.
    """

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


async def until_killed(
    interrupt: Interrupt,
    client: AsyncClient,
    work: Callable[[], Awaitable[T]],
    *,
    job: Callable[[], JobRef | None],
    cancel: bool,
    log: _Log,
) -> T:
    """``await work()`` unless a kill stops it; then :func:`fail_after_kill` with the job
    ``job()`` names at that moment (it may have been learned while the work ran)."""
    try:
        return await interrupt.guard(work)
    except Interrupted:
        await fail_after_kill(client, job(), cancel=cancel, log=log)


async def fail_after_kill(
    client: AsyncClient, job: JobRef | None, *, cancel: bool, log: _Log
) -> NoReturn:
    """After a kill stopped a call: cancel ``job`` when ``cancel``, then fail the task."""
    from airflow.sdk.exceptions import AirflowException

    if job is None:
        raise AirflowException("the task was killed before its job was submitted")
    if not cancel:
        raise AirflowException(f"the task was killed; job {job.id} keeps running")
    log.info("Cancelling job %s: the task was killed", job.id)
    await asyncio.shield(client.cancel(job))
    raise AirflowException(f"the task was killed; job {job.id} was cancelled")


def run_with_client(
    hook: JobRelayHook, conn: Connection, fn: Callable[[AsyncClient], Awaitable[T]]
) -> T:
    """``fn(client)`` on a fresh event loop with a client opened for ``conn``, then closed.

    Opening first makes a broken connection fail here with ``JobRelayConnectionError``.
    """

    async def main() -> T:
        client = hook.client_from_connection(conn)
        try:
            await hook.open_client(client)
            return await fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())
