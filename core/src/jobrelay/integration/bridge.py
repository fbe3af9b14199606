"""Run a wait from synchronous code, and turn a kill into a cancel on the wait's own loop.

Orchestrators stop task code in two ways, and both must cancel the remote job:

- **a signal handler on the task's own thread** (Airflow calls ``on_kill`` from its
  SIGTERM handler wherever ``execute`` was, perhaps inside a thread start or a log write,
  holding a lock any other thread needs). Cancelling right there, through another thread
  and loop, can wait on that lock forever. So the handler only calls
  :meth:`KillSwitch.request`, which never blocks; the guarded wait stops once the handler
  has returned, and the job is cancelled on the wait's own loop.
- **an exception raised into the loop** (Ctrl-C, Dagster's interrupt, a framework
  cancelling the task, a cancel scope's timeout) or an error raised after the submit: the
  job is cancelled with :func:`jobrelay._cancelling.cancel_job` (sent and answered whatever
  cancels the task meanwhile; a second signal is held back until then), and the exception
  propagates. A ``JobError`` does not cancel: the job is over, or its wait's limit dealt
  with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from jobrelay._cancelling import cancel_job, cancels_the_job, signals_held
from jobrelay._kills import Interrupted, Killed, KillSwitch
from jobrelay.client import AsyncClient
from jobrelay.models import JobRef

__all__ = ["Interrupted", "KillSwitch", "Killed", "cancel_after_kill", "run_sync", "until_killed"]

T = TypeVar("T")
log = logging.getLogger("jobrelay.integration")


async def cancel_after_kill(
    client: AsyncClient, ref: JobRef | None, *, cancel: bool, logger: logging.Logger | Any = log
) -> NoReturn:
    """After a kill stopped a call: cancel ``ref`` when ``cancel``, then raise ``Killed``
    (``cancelled`` says whether the platform took the cancel)."""
    cancelled = False
    if ref is not None and cancel:
        cancelled = await cancel_job(client.cancel, ref, why="the task was killed", logger=logger)
    raise Killed(ref, cancelled=cancelled)


async def until_killed(
    kill: KillSwitch,
    client: AsyncClient,
    work: Callable[[], Awaitable[T]],
    *,
    job: Callable[[], JobRef | None],
    cancel: bool,
    logger: logging.Logger | Any = log,
    cancel_on_error: bool = True,
) -> T:
    """``await work()`` unless a kill stops it, the task running it is cancelled, or it
    fails.

    Then the job ``job()`` names at that moment (it may have been learned while the work
    ran) is cancelled when ``cancel``: on a kill, :class:`Killed` is raised; on a
    cancellation, an interrupt (a ``BaseException`` raised in the work's frames) or an
    error, it propagates after the cancel. A ``JobError`` cancels nothing (the job is
    over, or its wait's limit dealt with it), nor does an ``Exception`` with
    ``cancel_on_error=False`` (an adapter that leaves the job for its retry to reattach, a
    sensor's poke that failed to read it).
    """
    try:
        return await kill.guard(work)
    except Interrupted:
        await cancel_after_kill(client, job(), cancel=cancel, logger=logger)
    except BaseException as exc:
        ref = job()
        leave = isinstance(exc, Exception) and not cancel_on_error
        if ref is not None and cancel and cancels_the_job(exc) and not leave:
            why = (
                f"the task failed ({type(exc).__name__})"
                if isinstance(exc, Exception)
                else "the task was interrupted"
            )
            await cancel_job(client.cancel, ref, why=why, logger=logger, exiting=exc)
        raise


def run_sync(
    open_client: Callable[[], AsyncClient | Awaitable[AsyncClient]],
    fn: Callable[[AsyncClient], Awaitable[T]],
    *,
    kill: KillSwitch | None = None,
    job: Callable[[], JobRef | None] = lambda: None,
    cancel_on_kill: bool = True,
    logger: logging.Logger | Any = log,
    cancel_on_error: bool = True,
) -> T:
    """``fn(client)`` on a fresh event loop with a client opened for it, then closed.

    With ``kill``, a :meth:`KillSwitch.request` (from a signal handler) stops ``fn`` and
    cancels the job ``job()`` names (when ``cancel_on_kill``), then raises
    :class:`Killed`. An interrupt raised into the loop (``KeyboardInterrupt``, a
    framework's ``BaseException``) cancels that job the same way before it propagates, and
    so does an error raised by ``fn`` unless ``cancel_on_error=False`` (see
    :func:`until_killed`).
    ``open_client`` returns the client (or an awaitable of it: an adapter may open it in its
    own way, naming its own configuration fields in errors). Opening first makes a broken
    setting fail here, before ``fn`` runs.

    >>> run_sync(lambda: AsyncClient("local://"), lambda c: c.list_jobs(limit=1))  # doctest: +SKIP
    """
    switch = kill or KillSwitch()

    async def main() -> T:
        made = open_client()
        client = made if isinstance(made, AsyncClient) else await made
        try:
            await client.platform()
            return await until_killed(
                switch,
                client,
                lambda: fn(client),
                job=job,
                cancel=cancel_on_kill,
                logger=logger,
                cancel_on_error=cancel_on_error,
            )
        finally:
            await client.aclose()  # not cut short by a cancellation (see AsyncClient.aclose)

    runner = asyncio.Runner()
    try:
        task: asyncio.Task[T] | None = None

        async def started() -> T:
            nonlocal task
            task = asyncio.current_task()
            return await main()

        try:
            return runner.run(started())
        except BaseException:
            # An interrupt raised out of the loop left the wait's task pending: cancel it
            # and let it finish (it cancels the job), with further signals held back.
            if task is not None and not task.done():
                with signals_held():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        runner.get_loop().run_until_complete(task)
            raise
    finally:
        with signals_held():
            runner.close()
