"""Following a job's log: the follower (pages of new lines until the job ends) and the wait
that follows the log while a waiter watches the state. ``AsyncClient.follow_logs`` and
``AsyncClient.wait(follow_logs=True)`` are these."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from jobrelay.errors import JobRelayError
from jobrelay.models import JobRef, JobStatus, LogPage
from jobrelay.platforms.base import Platform
from jobrelay.waiting import JobUpdate, PollPolicy, UpdateCallback, notify

__all__ = ["follow_log", "wait_following"]

FOLLOW_IDLE_MAX_S = 1.0  # a followed log with no new line, while a waiter watches the job


async def follow_log(
    platform: Platform,
    ref: JobRef,
    cursor: str | None,
    policy: PollPolicy,
    *,
    stop: asyncio.Event | None = None,
    ended: asyncio.Event | None = None,
) -> AsyncIterator[LogPage]:
    """Pages of new lines after ``cursor`` until the job is terminal and its last line is
    read, or ``stop`` is set (after the page in flight). A transient outage of the log or
    status call is retried for as long as ``policy`` allows.

    ``ended``, when given, is set by a waiter that saw the job end (through the status
    hub): the follower then takes the end from it instead of asking the platform after each
    empty page, so N followers add no status calls of their own.
    """
    loop = asyncio.get_running_loop()
    interval = policy.initial_s
    terminal_seen = False
    failing_since: float | None = None  # a transient outage of the log or status call
    while True:
        # With a waiter, its status hub tells the end: read before the page, it lets the
        # platform decide ``done`` without a status read of its own.
        known = None if ended is None else ended.is_set()
        try:
            page = await platform.logs(ref, cursor, terminal=known)
        except JobRelayError as exc:
            failing_since = policy.still_trying(exc, failing_since, loop.time())
            await _sleep_or_stop(policy.jittered(interval), stop)
            continue
        failing_since = None
        cursor = page.cursor
        if page.lines:
            yield page
        if page.done or (terminal_seen and not page.lines):
            return
        if stop is not None and stop.is_set():
            return
        if not page.lines and ended is not None:
            terminal_seen = ended.is_set()  # a status read before the next page
            if not terminal_seen:
                # The hub tells the end (and wakes this sleep), so a quiet log backs off
                # past the status pace: 1,000 followers on local are not 20,000 reads/s.
                idle_max = max(policy.max_s, FOLLOW_IDLE_MAX_S)
                interval = min(idle_max, max(policy.initial_s, interval * policy.backoff))
                await _sleep_or_stop(policy.jittered(interval), stop, ended)
        elif not page.lines:
            try:
                terminal_seen = (await platform.status(ref)).state.is_terminal
            except JobRelayError as exc:
                # Not known to be over: keep reading. The end is only taken from a
                # status read before the last (empty) page, never guessed.
                failing_since = policy.still_trying(exc, failing_since, loop.time())
                terminal_seen = False
            if terminal_seen:
                continue  # read once more: lines written just before the end
            interval = policy.next_interval(interval, changed=False)
            await _sleep_or_stop(policy.jittered(interval), stop)
        else:
            interval = policy.initial_s


async def wait_following(
    platform: Platform,
    ref: JobRef,
    cursor: str | None,
    policy: PollPolicy,
    waiting: Callable[[UpdateCallback | None], Awaitable[JobStatus]],
    on_update: UpdateCallback | None,
) -> JobStatus:
    """Run ``waiting`` (a wait that calls back on each update) while following the log
    from ``cursor``: ``on_update`` gets the state changes and each page of lines, in order,
    and the end only after the last line."""
    latest: list[JobStatus] = []
    started = asyncio.get_running_loop().time()

    known = asyncio.Event()  # the waiter has a status

    stop = asyncio.Event()
    ended = asyncio.Event()  # the waiter saw the job end: the follower reads what is left
    past_queue = asyncio.Event()  # ... saw it start: from now on there may be lines
    final: list[JobUpdate] = []  # the end, told after the last line the follower gives

    async def remember(update: JobUpdate) -> None:
        latest[:] = [update.status]
        known.set()
        if not update.status.state.is_waiting:
            past_queue.set()
        if update.status.state.is_terminal:
            ended.set()
            final.append(update)
            return
        await notify(on_update, update)

    async def tell_the_end() -> None:
        while final:
            await notify(on_update, final.pop(0))

    async def follow() -> None:
        # A queued job has printed nothing: 1,000 queued jobs cost no log reads.
        await past_queue.wait()
        async for page in follow_log(platform, ref, cursor, policy, stop=stop, ended=ended):
            # Lines can arrive before the waiter's first status (a fast job, a reattach
            # to a finished one): hold them until it has one, never drop them. (Asking
            # for a status here would tie the log to a status call that may fail.)
            await known.wait()
            status = latest[0]
            elapsed = asyncio.get_running_loop().time() - started
            await notify(
                on_update,
                JobUpdate(status, status.state, elapsed, tuple(page.lines), page.cursor),
            )

    follower = asyncio.create_task(follow())
    try:
        status = await waiting(remember)
        if not latest:
            latest.append(status)
        known.set()
        past_queue.set()
        if status.state.is_terminal:
            ended.set()
        else:
            stop.set()  # waited until RUNNING: stop following, keep nothing pending
        await follower
        await tell_the_end()
        return status
    except JobRelayError:
        await tell_the_end()  # a wait limit that saw the end: told, as before
        raise
    finally:
        if not follower.done():
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower


async def _sleep_or_stop(seconds: float, *events: asyncio.Event | None) -> None:
    """Sleep ``seconds``, or until one of ``events`` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    if not waits:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
