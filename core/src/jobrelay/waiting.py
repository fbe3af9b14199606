"""The one waiter: queue and run phases, timeouts, adaptive polling, batched status.

Every waiting caller (CLI, sync client, Airflow trigger, Prefect task, Dagster asset) goes
through :func:`wait_for_job`. Concurrent waiters on one platform share a :class:`StatusHub`
that asks ``platform.statuses()`` once per tick for all of them, so N waiting jobs cost one
API call per tick, not N.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from jobrelay._cancelling import run_to_end
from jobrelay._scalars import check_flag, check_seconds, field_name
from jobrelay.errors import ConfigError, JobRelayError, JobTimeout, NotFoundError, is_transient
from jobrelay.models import MAX_SECONDS, JobRef, JobState, JobStatus, LogLine

__all__ = [
    "JobUpdate",
    "PollPolicy",
    "StatusHub",
    "UpdateCallback",
    "WaitLimits",
    "check_poll_policy",
    "notify",
    "wait_for_job",
]

Phase = Literal["queue", "run", "total"]


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask for status: fast at first, slower while nothing changes.

    The interval starts at ``initial_s``, grows by ``backoff`` after each tick with no
    change up to ``max_s``, and drops back to ``initial_s`` when something changes.
    ``jitter`` spreads ticks of many clients by up to that fraction of the interval.
    ``outage_s`` is how long the platform may keep failing with transient errors (it was
    unreachable, rate-limited or answered 5xx, after the HTTP layer's own retries) before
    a wait gives up with that error: a wait of hours must outlive a minute's outage.

    ``brisk_s`` and ``brisk_max_s``: for ``brisk_s`` seconds after a job joins the watch or
    anything changes, the interval grows no longer than ``brisk_max_s``; only then does it
    back off towards ``max_s``. Short jobs, the usual steps of a pipeline, are seen to end
    within a fraction of a second, while a job that runs for hours costs a request every
    ``max_s``. ``brisk_s=0`` (the default) turns the phase off.
    """

    initial_s: float = 0.25
    max_s: float = 5.0
    backoff: float = 1.5
    jitter: float = 0.1
    outage_s: float = 120.0
    brisk_s: float = 0.0
    brisk_max_s: float | None = None

    def __post_init__(self) -> None:
        check_poll_policy(self)

    def next_interval(
        self, current: float, *, changed: bool, quiet_s: float = float("inf")
    ) -> float:
        """The next interval after a tick; ``quiet_s`` is how long nothing has changed and
        no job has joined (the brisk phase's clock)."""
        if changed:
            return self.initial_s
        longest = self.max_s
        if quiet_s < self.brisk_s and self.brisk_max_s is not None:
            longest = min(longest, self.brisk_max_s)
        return min(longest, max(self.initial_s, current * self.backoff))

    def jittered(self, interval: float) -> float:
        return interval * (1 + random.uniform(-self.jitter, self.jitter))

    def still_trying(self, exc: JobRelayError, failing_since: float | None, now: float) -> float:
        """When a transient failure began; re-raises ``exc`` once it is not transient or
        has lasted ``outage_s``."""
        since = now if failing_since is None else failing_since
        if not is_transient(exc) or now - since >= self.outage_s:
            raise exc
        return since


@dataclass(frozen=True)
class WaitLimits:
    """Wait limits in seconds; ``None`` means no limit.

    ``queue_timeout`` bounds the time spent QUEUED or STARTING, ``run_timeout`` the time
    spent RUNNING, ``timeout`` the whole wait. When one runs out the job is cancelled if
    ``cancel_on_timeout`` and ``JobTimeout(phase=...)`` is raised.
    """

    queue_timeout: float | None = None
    run_timeout: float | None = None
    timeout: float | None = None
    cancel_on_timeout: bool = True

    def __post_init__(self) -> None:
        for name in ("queue_timeout", "run_timeout", "timeout"):
            check_seconds(getattr(self, name), field=name)
        check_flag(self.cancel_on_timeout, field="cancel_on_timeout")


@dataclass(frozen=True)
class JobUpdate:
    """One thing that happened while waiting: a new state or queue position, or log lines."""

    status: JobStatus
    previous: JobState | None
    elapsed_s: float
    lines: Sequence[LogLine] = field(default_factory=tuple)
    cursor: str | None = None

    @property
    def kind(self) -> Literal["state", "position", "log"]:
        if self.lines:
            return "log"
        return "state" if self.previous != self.status.state else "position"


UpdateCallback = Callable[[JobUpdate], Awaitable[None] | None]


class _StatusSource(Protocol):
    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]: ...


class _Watch:
    """One waiter's mailbox: the newest status (or error) and an event to wake it."""

    __slots__ = ("error", "event", "latest", "misses", "ref")

    def __init__(self, ref: JobRef) -> None:
        self.ref = ref
        self.latest: JobStatus | None = None
        self.error: BaseException | None = None
        self.event = asyncio.Event()
        self.misses = 0

    def post(self, status: JobStatus | None, error: BaseException | None = None) -> None:
        self.latest = status if status is not None else self.latest
        self.error = error
        self.event.set()

    async def next(self, timeout: float | None) -> JobStatus | None:
        """The newest status, or None when ``timeout`` passes with nothing new."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return None
        self.event.clear()
        if self.error is not None:
            raise self.error
        return self.latest


class StatusHub:
    """Batches the status polling of every concurrent waiter on one platform.

    One background task ticks while anyone watches; each tick is one ``statuses()`` call
    for all watched jobs. A new watcher wakes the loop, and watchers that arrive together
    share the same tick.
    """

    missing_ticks_allowed = 5

    def __init__(self, source: _StatusSource, policy: PollPolicy) -> None:
        self._source = source
        self._policy = policy
        self._watches: dict[str, list[_Watch]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, tuple[JobState, int | None, bool]] = {}
        self._failing_since: float | None = None
        self._news_at = 0.0  # when a job last joined or anything changed (loop time)
        self.ticks = 0

    @contextlib.asynccontextmanager
    async def watch(self, ref: JobRef) -> AsyncIterator[_Watch]:
        w = _Watch(ref)
        self._watches.setdefault(ref.id, []).append(w)
        self._news_at = asyncio.get_running_loop().time()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="jobrelay-status-hub")
        try:
            yield w
        finally:
            group = self._watches.get(ref.id, [])
            if w in group:
                group.remove(w)
            if not group:
                self._watches.pop(ref.id, None)
                self._last.pop(ref.id, None)

    async def poll_once(self, ref: JobRef) -> JobStatus:
        """Ask for one job's status now, outside the tick."""
        found = await self._source.statuses([ref])
        if ref.id not in found:
            raise NotFoundError(f"job {ref} is not known to the platform")
        return found[ref.id]

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval = self._policy.initial_s
        # A platform that can tell when a job's state changed (the local platform's agents
        # do) cuts the sleep short too: the end is seen at once, not at the next poll.
        subscribe: Callable[[Callable[[], None]], Callable[[], None]] | None = getattr(
            self._source, "subscribe_changes", None
        )
        unsubscribe = subscribe(self._wake.set) if subscribe is not None else None
        try:
            while self._watches:
                self._wake.clear()
                changed = await self._tick()
                now = asyncio.get_running_loop().time()
                if changed:
                    self._news_at = now
                interval = self._policy.next_interval(
                    interval, changed=changed, quiet_s=now - self._news_at
                )
                with contextlib.suppress(TimeoutError):
                    # A new watcher cuts the sleep short so it gets its first status at once.
                    await asyncio.wait_for(self._wake.wait(), self._policy.jittered(interval))
        finally:
            if unsubscribe is not None:
                unsubscribe()

    async def _tick(self) -> bool:
        refs = [group[0].ref for group in self._watches.values() if group]
        if not refs:
            return False
        self.ticks += 1
        try:
            found = await self._source.statuses(refs)
        except Exception as exc:  # a bug in a platform must reach its waiters, not hang them
            now = asyncio.get_running_loop().time()
            if isinstance(exc, JobRelayError):
                try:
                    self._failing_since = self._policy.still_trying(exc, self._failing_since, now)
                    return False  # a transient failure: ask again next tick
                except JobRelayError:
                    pass
            for group in list(self._watches.values()):
                for w in group:
                    w.post(None, exc)
            return False
        self._failing_since = None
        changed = False
        for ref in refs:
            group = self._watches.get(ref.id, [])
            if not group:
                # Its last waiter left while statuses() ran: remembering its state now would
                # keep an entry per such job for the life of the process.
                continue
            status = found.get(ref.id)
            if status is None:
                changed |= self._missing(ref, group)
                continue
            key = (status.state, status.queue_position, status.started_at is None)
            moved = self._last.get(ref.id) != key
            if moved:
                changed = True
                self._last[ref.id] = key
            for w in group:
                w.misses = 0
                # A waiter acts on a move (state, queue position, start) or its first
                # status; waking all of them every tick costs an N-waiter loop N wakeups.
                if moved or w.latest is None:
                    w.post(status)
        return changed

    def _missing(self, ref: JobRef, group: list[_Watch]) -> bool:
        for w in group:
            w.misses += 1
            if w.misses >= self.missing_ticks_allowed:
                w.post(None, NotFoundError(f"job {ref} is not known to the platform"))
        return False


async def notify(callback: UpdateCallback | None, update: JobUpdate) -> None:
    if callback is None:
        return
    result = callback(update)
    if result is not None:
        await result


def _seconds_since(then: datetime, now: datetime) -> float:
    """Seconds from ``then`` to ``now``, never negative (naive times are taken as UTC)."""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


@dataclass
class _Phases:
    """Tracks when each phase began, by the waiter's own monotonic clock.

    A wait that continues an earlier one (``since``: a restarted Airflow trigger) starts
    its clock when that one began, so a restart does not grant the job fresh limits.
    """

    started: float
    running_since: float | None = None
    resumed: bool = False

    @classmethod
    def begin(cls, now: float, since: datetime | None, wall_now: datetime) -> _Phases:
        if since is None:
            return cls(started=now)
        return cls(started=now - _seconds_since(since, wall_now), resumed=True)

    def run_began(self, status: JobStatus, now: float, wall_now: datetime, first: bool) -> float:
        """When the run phase began: now, when this waiter saw the job start. A resumed
        waiter that finds it already running takes the platform's ``started_at``, bounded
        by when the wait began (a platform clock behind ours cannot reach further back)."""
        if not (self.resumed and first and status.started_at is not None):
            return now
        return now - min(_seconds_since(status.started_at, wall_now), now - self.started)

    def expired(self, status: JobStatus, limits: WaitLimits, now: float) -> Phase | None:
        if limits.timeout is not None and now - self.started >= limits.timeout:
            return "total"
        if (
            limits.queue_timeout is not None
            and self.running_since is None
            and now - self.started >= limits.queue_timeout
        ):
            return "queue"
        if (
            limits.run_timeout is not None
            and self.running_since is not None
            and now - self.running_since >= limits.run_timeout
        ):
            return "run"
        return None

    def until_next_deadline(self, limits: WaitLimits, now: float) -> float | None:
        deadlines = []
        if limits.timeout is not None:
            deadlines.append(self.started + limits.timeout)
        if limits.queue_timeout is not None and self.running_since is None:
            deadlines.append(self.started + limits.queue_timeout)
        if limits.run_timeout is not None and self.running_since is not None:
            deadlines.append(self.running_since + limits.run_timeout)
        return max(0.0, min(deadlines) - now) if deadlines else None


def _reached(state: JobState, until: JobState) -> bool:
    if state.is_terminal:
        return True
    return until is JobState.RUNNING and state is JobState.RUNNING


async def wait_for_job(
    hub: StatusHub,
    ref: JobRef,
    *,
    until: JobState = JobState.SUCCEEDED,
    limits: WaitLimits = WaitLimits(),
    cancel: Callable[[JobRef], Awaitable[None]],
    on_update: UpdateCallback | None = None,
    since: datetime | None = None,
    cancel_queued: bool = True,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> JobStatus:
    """Wait until the job is terminal (or RUNNING, when ``until=RUNNING``).

    Returns the last status; the caller decides what a FAILED state means. Raises
    ``JobTimeout`` when a limit in ``limits`` runs out, after cancelling the job when
    ``limits.cancel_on_timeout``. ``since`` continues a wait that began then (see
    :class:`_Phases`); ``clock`` and ``wall`` are the monotonic and calendar clocks.
    ``cancel_queued=False`` (the platform's capability) means a cancel may not take a
    queued job off its queue: a queue timeout then says a stop was asked for, not that the
    job was cancelled, unless the platform reports it ended.
    """
    phases = _Phases.begin(clock(), since, wall())
    previous: JobState | None = None
    position: int | None = None
    status: JobStatus | None = None
    async with hub.watch(ref) as watch:
        while True:
            now = clock()
            if status is not None:
                expired = phases.expired(status, limits, now)
                if expired is not None:
                    await _on_timeout(ref, status, expired, limits, cancel, hub, cancel_queued)
            fresh = await watch.next(phases.until_next_deadline(limits, now))
            if fresh is None:
                if status is None:  # a limit ran out before the first status arrived
                    status = await _first_status(hub, ref)
                continue
            status = fresh
            now = clock()
            if status.state is JobState.RUNNING and phases.running_since is None:
                phases.running_since = phases.run_began(status, now, wall(), previous is None)
            if status.state != previous or status.queue_position != position:
                await notify(on_update, JobUpdate(status, previous, now - phases.started))
                previous, position = status.state, status.queue_position
            if _reached(status.state, until):
                return status


async def _first_status(hub: StatusHub, ref: JobRef) -> JobStatus:
    return await hub.poll_once(ref)


async def _on_timeout(
    ref: JobRef,
    status: JobStatus,
    phase: Phase,
    limits: WaitLimits,
    cancel: Callable[[JobRef], Awaitable[None]],
    hub: StatusHub,
    cancel_queued: bool = True,
) -> None:
    limit = {"queue": limits.queue_timeout, "run": limits.run_timeout, "total": limits.timeout}
    what = {"queue": "in the queue", "run": "running", "total": "in total"}[phase]
    action = "cancelled it" if limits.cancel_on_timeout else "left it running"
    if limits.cancel_on_timeout:
        was_queued = status.state in (JobState.QUEUED, JobState.STARTING)
        # A timeout must not leave the remote job running even if we are torn down meanwhile
        # (a cancel scope, a second Task.cancel()): the cancel is answered before going on.
        with contextlib.suppress(TimeoutError):
            await run_to_end(lambda: cancel(ref))
        with contextlib.suppress(JobRelayError):
            status = await _first_status(hub, ref)
        if was_queued and not cancel_queued and not status.state.is_terminal:
            action = (
                "asked the platform to stop it, but this platform cannot take a queued job "
                f"off its queue: it is still {status.state.value} and may start later"
            )
    raise JobTimeout(
        f"job {ref} spent more than {limit[phase]:g}s {what} (phase={phase}); jobrelay "
        f"{action}. Raise {phase}_timeout if it needs longer."
        if phase != "total"
        else f"job {ref} did not finish within timeout={limit[phase]:g}s; jobrelay {action}.",
        status,
        phase=phase,
    )


def check_poll_policy(policy: PollPolicy, *, names: Mapping[str, str] | None = None) -> None:
    """A polling policy that polls: a positive first interval, a longest one no shorter,
    a backoff of at least 1, a jitter in [0, 1) and an outage allowance of 0 or more,
    all finite. ``PollPolicy`` runs this as it is built."""

    def number(field: str) -> float:
        value = getattr(policy, field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"must be a number, got {value!r}", field=field_name(field, names))
        if not math.isfinite(value):
            raise ConfigError(f"must be finite, got {value}", field=field_name(field, names))
        return float(value)

    initial, longest = number("initial_s"), number("max_s")
    if initial <= 0:
        raise ConfigError(
            f"must be a positive number of seconds between status checks, got {initial:g}",
            field=field_name("initial_s", names),
        )
    if initial > MAX_SECONDS:
        raise ConfigError(
            f"must be at most {MAX_SECONDS:g} s", field=field_name("initial_s", names)
        )
    if longest < initial:
        raise ConfigError(
            f"must be at least the first interval ({initial:g} s), got {longest:g}",
            field=field_name("max_s", names),
        )
    if longest > MAX_SECONDS:
        raise ConfigError(f"must be at most {MAX_SECONDS:g} s", field=field_name("max_s", names))
    if number("backoff") < 1:
        raise ConfigError("must be 1 or more (1: no backoff)", field=field_name("backoff", names))
    if not 0 <= number("jitter") < 1:
        raise ConfigError(
            "must be from 0 up to (not including) 1", field=field_name("jitter", names)
        )
    if number("outage_s") < 0:
        raise ConfigError("must be 0 or more seconds", field=field_name("outage_s", names))
    if not 0 <= number("brisk_s") <= MAX_SECONDS:
        raise ConfigError(
            f"must be from 0 to {MAX_SECONDS:g} seconds", field=field_name("brisk_s", names)
        )
    if policy.brisk_max_s is not None and not initial <= number("brisk_max_s") <= longest:
        raise ConfigError(
            f"must be from the first interval ({initial:g} s) to the longest ({longest:g} s),"
            f" got {policy.brisk_max_s}",
            field=field_name("brisk_max_s", names),
        )
