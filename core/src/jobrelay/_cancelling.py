"""A cancel that cannot be cancelled: once a job is to be cancelled, the request is sent and
its answer read before the caller goes on, whatever stops the caller meanwhile.

What stops a caller, and why ``asyncio.shield`` alone is not enough:

- ``asyncio.timeout()`` and ``Task.cancel()`` interrupt the caller's ``await``; a second
  ``Task.cancel()`` interrupts a shielded await too, and the caller moves on (to closing the
  client under the request) while the request is in flight.
- an anyio cancel scope (Prefect's ``timeout_seconds``, a ``move_on_after``, a blocking
  portal's cancelled future) is level-triggered: it cancels every later await of the task,
  including the shielded one, until the task leaves the scope.
- a ``KeyboardInterrupt`` raised into the loop's thread (a second Ctrl-C, an
  interrupt-raising signal handler) may land in the request's own frames, or stop the loop
  outright; ``asyncio.run`` then cancels every task left, the request's too.

So :func:`run_to_end` runs the work in a task of its own that refuses ``cancel()`` (only its
deadline stops it), tries it again when an interrupt cut an attempt short, and waits for it
inside a shielded anyio scope while holding every cancellation and interrupt of the caller
back; once the work is done, what was held back is raised again. :func:`cancel_job` is that,
for one job, with the log lines a user reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio

from jobrelay.errors import JobError
from jobrelay.models import JobRef

__all__ = [
    "CANCEL_DEADLINE_S",
    "cancel_job",
    "cancels_the_job",
    "run_to_end",
    "signals_held",
]

T = TypeVar("T")
log = logging.getLogger("jobrelay")

CANCEL_DEADLINE_S = 30.0
"""How long a cancel (all its attempts, the platform's own retries included) may take before
the caller goes on without its answer: a platform that does not answer must not hold a
worker forever."""

RETRY_PAUSE_S = 0.05  # between attempts, after an interrupt cut one short


def cancels_the_job(exc: BaseException) -> bool:
    """Whether leaving a wait by ``exc`` must cancel the job it waited on.

    Every exit does (an ordinary exception, a cancellation, ``KeyboardInterrupt``, a
    framework's ``BaseException``) but a :class:`~jobrelay.errors.JobError`: the job is
    over (failed, cancelled) or the wait's own limit already dealt with it as
    ``cancel_on_timeout`` said. A closed coroutine (``GeneratorExit``) can await nothing.
    """
    return not isinstance(exc, (JobError, GeneratorExit))


async def cancel_job(
    cancel: Callable[[JobRef], Awaitable[None]],
    ref: JobRef,
    *,
    why: str,
    logger: logging.Logger | Any = log,
    exiting: BaseException | None = None,
    deadline_s: float = CANCEL_DEADLINE_S,
) -> bool:
    """``await cancel(ref)`` to its answer, as :func:`run_to_end` does; True once the
    platform took the cancel.

    A cancel the platform refused, or left unanswered for ``deadline_s``, is logged as a
    warning and gives False: the caller is leaving by ``exiting`` already, and that error
    says more than the cancel's. ``exiting`` is what the caller leaves by (see
    :func:`run_to_end`).

    >>> except BaseException as exc:                                 # doctest: +SKIP
    ...     if cancels_the_job(exc):
    ...         await cancel_job(client.cancel, ref, why="the task was interrupted", exiting=exc)
    ...     raise
    """
    logger.info("Cancelling job %s: %s", ref.id, why)
    answered: list[bool] = []

    async def attempt() -> None:
        try:
            await cancel(ref)
        except asyncio.CancelledError:
            if _expired():
                logger.warning("Could not cancel job %s: no answer within %g s", ref.id, deadline_s)
            raise
        except Exception as error:
            logger.warning("Could not cancel job %s: %s", ref.id, error)
            answered.append(False)
        else:
            answered.append(True)

    with contextlib.suppress(TimeoutError):
        await run_to_end(attempt, deadline_s=deadline_s, exiting=exiting)
    return answered[-1:] == [True]


async def run_to_end(
    work: Callable[[], Awaitable[T]],
    *,
    deadline_s: float = CANCEL_DEADLINE_S,
    exiting: BaseException | None = None,
) -> T:
    """``await work()`` to its end, whatever cancels or interrupts the caller meanwhile.

    The work runs in a task that refuses ``cancel()``; an attempt cut short by an interrupt
    raised into its frames is started again. It is stopped only when ``deadline_s`` has
    passed: then ``TimeoutError`` is raised. SIGINT/SIGTERM are held back meanwhile (on the
    main thread).

    A cancellation or interrupt of the caller while it waited is raised again once the
    work is done, unless the caller is leaving by one already (``exiting``, a
    ``BaseException`` that is not an ``Exception``): an ordinary error gives way to the
    cancellation, a cancellation to a ``KeyboardInterrupt``.

    Raises: what ``work`` raised, ``TimeoutError``, or the held-back interruption.
    """
    loop = asyncio.get_running_loop()
    held: list[BaseException] = []
    runner = _Unstoppable(_attempts(work, held), loop=loop)
    expiry = loop.call_later(deadline_s, runner.expire)
    try:
        with signals_held(), anyio.CancelScope(shield=True):
            while not runner.done():
                try:
                    await asyncio.wait({runner})
                except GeneratorExit:
                    raise
                except BaseException as exc:  # held back, raised again below
                    held.append(exc)
    finally:
        expiry.cancel()
    _redeliver(held, exiting)
    if runner.cancelled():
        raise TimeoutError(f"no answer within {deadline_s:g} s")
    return runner.result()


async def _attempts(work: Callable[[], Awaitable[T]], held: list[BaseException]) -> T:
    task = asyncio.current_task()
    assert isinstance(task, _Unstoppable)
    while True:
        try:
            return await work()
        except asyncio.CancelledError:
            if task.expired:
                raise
            # A future of this attempt was cancelled by someone else (this task never is).
        except (Exception, GeneratorExit):
            raise
        except BaseException as exc:  # an interrupt raised into this attempt's frames
            held.append(exc)
        # A pause that also lets the loop run the deadline: an attempt that fails at once
        # must not spin here forever.
        await asyncio.sleep(RETRY_PAUSE_S)


class _Unstoppable(asyncio.Task[T]):
    """A task that refuses ``cancel()``: a cancel scope, ``asyncio.timeout`` or a runner
    shutting down (``asyncio.run`` cancels every task it leaves) cannot cut it short. Only
    :meth:`expire` stops it."""

    expired = False

    def cancel(self, msg: Any = None) -> bool:
        return False

    def expire(self) -> None:
        self.expired = True
        super().cancel("deadline passed")


def _expired() -> bool:
    """Whether the task running now is :func:`run_to_end`'s and its deadline has passed."""
    task = asyncio.current_task()
    return isinstance(task, _Unstoppable) and task.expired


def _redeliver(held: list[BaseException], exiting: BaseException | None) -> None:
    if not held:
        return
    # An interrupt (Ctrl-C) says more than a cancellation, and either more than an error.
    interrupt = next((e for e in held if not isinstance(e, asyncio.CancelledError)), held[0])
    if exiting is None or isinstance(exiting, Exception):
        raise interrupt
    if isinstance(exiting, asyncio.CancelledError) and not isinstance(
        interrupt, asyncio.CancelledError
    ):
        raise interrupt


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back on the main thread (they land after the block, not in it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
