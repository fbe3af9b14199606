"""One status hub per process and platform settings, shared by every thread and event loop.

A :class:`~jobrelay.waiting.StatusHub` belongs to the loop it ticks on, so clients on
different loops could not share one: a Prefect flow run runs each ``.submit()``-ed async
task on a thread and loop of its own, and every sync :class:`~jobrelay.Client` (a Dagster
step, a thread pool) has its own loop. Fifty such waiters made fifty status calls per tick.

Here the process keeps its hubs on one loop of their own, in a daemon thread, one per
platform settings (URL, options, poll policy). A client opened with ``shared_hub=True``
links its waiters to the hub of its settings (:class:`LinkedHub`): each waiter keeps its
mailbox on its own loop, and the hub's updates reach it through ``call_soon_threadsafe``.
No loop ever waits on another: a waiter hands its watch to the hub's loop without awaiting
it, and leaves by cancelling it. N waiters on N loops cost one status call per tick.

Cancelling a job is not the hub's business: a waiter's client cancels on its own loop and
platform, as before.

Lifetime: the thread starts with the first shared wait and is a daemon (it never keeps the
process alive; its loop is stopped at exit). A hub whose last waiter left closes its
platform after :data:`IDLE_CLOSE_S`. A forked child never uses its parent's thread (which
does not exist there): it starts its own.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import PurePath
from typing import Any, TypeVar

from pydantic import SecretStr

from jobrelay.models import JobRef, JobStatus
from jobrelay.platforms.base import Platform
from jobrelay.waiting import PollPolicy, StatusHub, _Watch

__all__ = ["IDLE_CLOSE_S", "LinkedHub", "linked_hub"]

T = TypeVar("T")
Deliver = Callable[[JobStatus | None, BaseException | None], None]

IDLE_CLOSE_S = 10.0
"""How long a shared hub keeps its platform open after its last waiter left: consecutive
waits (a flow's next task) reuse it."""

STOP_JOIN_S = 1.0  # at exit, how long to wait for the hub thread to stop


def linked_hub(
    url: str, options: Mapping[str, Any], policy: PollPolicy, platform_url: str
) -> LinkedHub | None:
    """The shared hub of these settings, for a client that opened ``platform_url`` from
    ``url`` and ``options``; None when the options cannot be shared across loops (an
    object such as an HTTP transport, which may belong to the caller's loop)."""
    key = _settings_key(url, options, policy, platform_url)
    if key is None:
        return None
    return LinkedHub(_Settings(key, url, dict(options), policy, platform_url))


class _Settings:
    """What a shared hub opens its platform with; ``key`` names it (a digest: no secret)."""

    __slots__ = ("key", "options", "platform_url", "policy", "url")

    def __init__(
        self,
        key: str,
        url: str,
        options: dict[str, Any],
        policy: PollPolicy,
        platform_url: str,
    ) -> None:
        self.key = key
        self.url = url
        self.options = options
        self.policy = policy
        self.platform_url = platform_url


class LinkedHub(StatusHub):
    """A client's link to the process's shared hub for its settings.

    ``watch`` gives a mailbox on the caller's loop that the shared hub (on its own loop)
    fills; ``poll_once`` asks the shared hub's platform. What ``wait_for_job`` needs of a
    hub, so a waiter does not know whether its hub is shared.
    """

    def __init__(self, settings: _Settings) -> None:
        super().__init__(self, settings.policy)  # its own source: statuses() below
        self._settings = settings

    @contextlib.asynccontextmanager
    async def watch(self, ref: JobRef) -> AsyncIterator[_Watch]:
        mailbox = _Watch(ref)
        loop = asyncio.get_running_loop()

        def deliver(status: JobStatus | None, error: BaseException | None) -> None:
            # On the hub's loop. A waiter's loop that has closed has nobody left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(mailbox.post, status, error)

        # Handed over, not awaited: the hub's loop may be busy, this one must not wait.
        held = _hub_loop().submit(_hold(self._settings, ref, deliver))
        try:
            yield mailbox
        finally:
            held.cancel()  # thread-safe: the hub's loop drops the watch

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """One status call on the shared hub's platform (``poll_once``, outside the tick)."""
        return await asyncio.wrap_future(_hub_loop().submit(_statuses(self._settings, refs)))


# -- on the hub's loop ----------------------------------------------------------------------


class _Shared:
    """One settings' platform and hub on the hub loop; closed when idle."""

    def __init__(self, settings: _Settings, registry: dict[str, _Shared]) -> None:
        self._settings = settings
        self._registry = registry
        self._opening: asyncio.Task[tuple[Platform, StatusHub]] | None = None
        self._users = 0
        self._idle: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None

    async def opened(self) -> tuple[Platform, StatusHub]:
        """The platform and hub, opened once; a failed open is raised to every caller
        waiting on it, and the next caller tries again."""
        if self._opening is None:
            # A task of its own: the first caller leaving must not cut the others' open.
            self._opening = asyncio.ensure_future(self._open())
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        except Exception:
            if self._opening is opening and opening.done():
                self._opening = None
            raise

    async def _open(self) -> tuple[Platform, StatusHub]:
        from jobrelay.platforms.registry import open_platform

        s = self._settings
        platform = await open_platform(s.url, **s.options)
        if platform.url != s.platform_url:
            # The URL resolves differently now (its environment changed since the client
            # opened it): this hub would watch another platform's jobs.
            await platform.aclose()
            raise RuntimeError(f"the shared status hub opened {platform.url}, not {s.platform_url}")
        return platform, StatusHub(platform, s.policy)

    @contextlib.contextmanager
    def used(self) -> Iterator[None]:
        """While a waiter or a status call uses the hub: it is not closed meanwhile."""
        self._users += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                loop = asyncio.get_running_loop()
                self._idle = loop.call_later(IDLE_CLOSE_S, self._close_soon)

    def _close_soon(self) -> None:
        if self._users or self._registry.get(self._settings.key) is not self:
            return
        del self._registry[self._settings.key]  # a new waiter opens a new one
        self._closing = asyncio.ensure_future(self._close())

    async def _close(self) -> None:
        opening = self._opening
        if opening is None or not opening.done() or opening.cancelled() or opening.exception():
            return
        platform, hub = opening.result()
        await hub.aclose()
        with contextlib.suppress(Exception):  # a platform gone already has nothing to close
            await platform.aclose()


def _shared(settings: _Settings) -> _Shared:
    registry = _hub_loop().hubs
    found = registry.get(settings.key)
    if found is None:
        found = registry[settings.key] = _Shared(settings, registry)
    return found


async def _hold(settings: _Settings, ref: JobRef, deliver: Deliver) -> None:
    """Watch ``ref`` on the shared hub and relay every update to ``deliver`` until
    cancelled (the waiter left)."""
    shared = _shared(settings)
    with shared.used():
        try:
            _, hub = await shared.opened()
        except Exception as exc:  # the waiter raises it, as a failing tick's error
            deliver(None, exc)
            return
        async with hub.watch(ref) as watch:
            while True:
                await watch.event.wait()
                watch.event.clear()
                deliver(watch.latest, watch.error)


async def _statuses(settings: _Settings, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
    shared = _shared(settings)
    with shared.used():
        platform, _ = await shared.opened()
        return await platform.statuses(refs)


# -- the hub thread -------------------------------------------------------------------------


class _HubLoop:
    """The daemon thread that runs the process's shared hubs, and its loop."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.hubs: dict[str, _Shared] = {}  # touched on the loop only
        self.thread = threading.Thread(target=self._run, name="jobrelay-status-hubs", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self) -> None:
        """Stop the loop (its platforms are left to the exiting process)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not threading.current_thread():
            self.thread.join(STOP_JOIN_S)


_lock = threading.Lock()
_current: _HubLoop | None = None


def _hub_loop() -> _HubLoop:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = _HubLoop()
        return _current


def _forget_after_fork() -> None:
    # The child has the parent's objects but not its thread: start afresh when needed.
    global _current, _lock
    _current = None
    _lock = threading.Lock()


@atexit.register
def _stop_at_exit() -> None:
    current = _current
    if current is not None and current.pid == os.getpid():
        current.stop()


os.register_at_fork(after_in_child=_forget_after_fork)


# -- settings keys --------------------------------------------------------------------------


def _settings_key(
    url: str, options: Mapping[str, Any], policy: PollPolicy, platform_url: str
) -> str | None:
    """A digest of the settings (the credential in it, so different credentials get
    different hubs, but not readable from it); None for options that are not plain data."""
    try:
        text = json.dumps([url, platform_url, _plain(dict(options)), repr(policy)], sort_keys=True)
    except _NotPlain:
        return None
    return hashlib.sha256(text.encode()).hexdigest()


class _NotPlain(Exception):
    pass


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, SecretStr):
        return {"secret": value.get_secret_value()}
    if isinstance(value, PurePath):
        return {"path": str(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v) for k, v in value.items()}
    raise _NotPlain
