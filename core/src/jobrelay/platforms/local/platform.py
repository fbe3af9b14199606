"""``LocalPlatform``: the embedded platform — a durable SQLite queue and agents on this host.

All database and file work runs in worker threads, so no call blocks the event loop for
more than a thread hand-off. Jobs are run by a background agent process that is started on
demand (see :mod:`.spawn`); a client process never runs jobs itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from jobrelay.errors import ConfigError, NotFoundError
from jobrelay.models import JobRef, JobSpec, JobStatus, LogPage, QueueInfo, QueueMode
from jobrelay.platforms.base import Capabilities
from jobrelay.platforms.local import logs, spawn, wake
from jobrelay.platforms.local.payloads import row_to_status
from jobrelay.platforms.local.settings import LocalSettings, resolve_home
from jobrelay.platforms.local.store import QueueRow, Store
from jobrelay.platforms.settings import load_settings
from jobrelay.waiting import PollPolicy

__all__ = ["LocalPlatform", "open_platform"]

T = TypeVar("T")

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A waiter re-checks that some agent is alive at most this often (it may have crashed).
_AGENT_CHECK_EVERY_S = 2.0


def _queue_info(row: QueueRow) -> QueueInfo:
    return QueueInfo(
        name=row.name,
        max_concurrency=row.max_concurrency,
        mode=row.mode,
        queued=row.queued,
        running=row.running,
    )


def _queue_mode(mode: QueueMode | str) -> QueueMode:
    try:
        return QueueMode(mode.upper() if isinstance(mode, str) else mode)
    except ValueError:
        raise ConfigError(
            f"unknown queue mode {mode!r}; use one of " + ", ".join(m.value for m in QueueMode),
            field="mode",
        ) from None


def _with_key(ref: JobRef, row: sqlite3.Row) -> JobRef:
    """``ref`` with the key the job was submitted under (a ref made from an id has none)."""
    key = row["idempotency_key"]
    return (
        ref if ref.idempotency_key or not key else ref.model_copy(update={"idempotency_key": key})
    )


def _pin_working_dir(spec: JobSpec) -> JobSpec:
    """The spec with an absolute ``working_dir``; ``ConfigError`` if it is no directory.

    Without one, the job runs where the submitting process is, as a local command would.
    """
    workdir = Path(spec.working_dir or os.getcwd()).expanduser().absolute()
    if not workdir.is_dir():
        raise ConfigError(
            f"directory {spec.working_dir!r} does not exist on this machine",
            field="working_dir",
        )
    # The agent has its own cwd, so a relative path must be pinned down here.
    return spec.model_copy(update={"working_dir": str(workdir)})


class LocalPlatform:
    """Jobs on this machine, queued in ``<home>/jobrelay.db`` and run by local agents.

    Open it with :func:`jobrelay.platforms.local.open_platform` (or the registry):

    >>> platform = await open_platform("local:///tmp/jobs")  # doctest: +SKIP
    >>> ref = await platform.submit(JobSpec(entrypoint="echo hi"))  # doctest: +SKIP

    ``autostart_agent`` starts a background agent when work is queued and none is alive;
    it exits after ``agent_idle_timeout`` idle seconds.
    """

    name = "local"
    capabilities = Capabilities(
        queues=True,
        priority=True,
        timeout=True,
        retries=True,
        tags=True,  # kept with the job in its store
        owners=True,  # in the stored spec
        hints={
            "resources": "the local platform runs each job as a process on this machine and "
            "reserves nothing; leave resources out, or limit concurrency with a queue",
            "config": "the local platform takes no config options",
        },
        batch_status=True,
        cancel_queued=True,
        shared_filesystem=True,
        # A status read is one local SQLite query, so waiters can afford to poll fast.
        poll=PollPolicy(initial_s=0.01, max_s=0.05, backoff=1.5, jitter=0.1),
    )

    def __init__(
        self, store: Store, *, autostart_agent: bool = True, agent_idle_timeout: float = 30.0
    ) -> None:
        self.home = store.home
        self.url = f"local://{self.home}"
        self.autostart_agent = autostart_agent
        self.agent_idle_timeout = agent_idle_timeout
        self._store = store
        self._closed = False
        self._last_agent_check = -float("inf")

    @classmethod
    async def open(
        cls, home: Path, *, autostart_agent: bool = True, agent_idle_timeout: float = 30.0
    ) -> LocalPlatform:
        """Open (creating when needed, mode 0700) the platform home at ``home``."""

        def prepare() -> Store:
            home.mkdir(parents=True, exist_ok=True, mode=0o700)
            (home / "logs").mkdir(exist_ok=True, mode=0o700)
            return Store(home)

        store = await anyio.to_thread.run_sync(prepare)
        return cls(store, autostart_agent=autostart_agent, agent_idle_timeout=agent_idle_timeout)

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise ConfigError(f"{self.url} is closed; open it again", field="platform")
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))

    def _ref(self, job_id: str, key: str | None = None) -> JobRef:
        return JobRef(platform=self.url, id=job_id, idempotency_key=key)

    # -- jobs ---------------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> JobRef:
        """Queue a job; an agent is started if none is alive (``autostart_agent``).

        The job runs in ``spec.working_dir``, or else in this process's current directory.

        Raises ``ConfigError`` (field ``queue`` or ``working_dir``) before writing anything,
        and ``ConflictError`` when the idempotency key is already taken (see ``find``).
        """
        spec = await anyio.to_thread.run_sync(_pin_working_dir, spec)
        job_id = await self._db(self._store.insert_job, spec)
        wake.poke(self.home)
        # Checked after the insert, not before: an agent retiring for idleness deletes its
        # row in the same transaction as its "nothing queued" check, so either it sees this
        # job or we see it gone.
        await self._ensure_agent()
        return self._ref(job_id, spec.idempotency_key)

    async def find(self, idempotency_key: str) -> JobRef | None:
        """The job submitted under exactly ``idempotency_key``, or None."""
        job_id = await self._db(self._store.find_by_key, idempotency_key)
        return None if job_id is None else self._ref(job_id, idempotency_key)

    async def status(self, ref: JobRef) -> JobStatus:
        """The job's status; ``NotFoundError`` if this home has no such job."""
        found = await self.statuses([ref])
        if ref.id not in found:
            raise NotFoundError(
                f"job {ref.id} is not known to {self.url}", status_code=404, operation="status"
            )
        return found[ref.id]

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Statuses of many jobs in one SQL query, keyed by id; unknown ids are left out.

        When some of them are still active and no agent is alive (it crashed), one is
        started, so a waiter never waits on a queue nobody serves.
        """
        by_id = {ref.id: ref for ref in refs}

        def read() -> dict[str, JobStatus]:  # rows to statuses off the loop: 1,000 a tick
            rows = self._store.job_rows(list(by_id))
            return {
                row["id"]: row_to_status(
                    row, _with_key(by_id[row["id"]], row), url=logs.log_url(self.home, row["id"])
                )
                for row in rows
            }

        result = await self._db(read)
        if any(s.state.is_active for s in result.values()):
            now = time.monotonic()
            if now - self._last_agent_check >= _AGENT_CHECK_EVERY_S:
                self._last_agent_check = now
                await self._ensure_agent()
        return result

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        """Up to 1000 lines after ``cursor``; ``done`` once the job ended and all are read."""
        offset = logs.parse_cursor(cursor)
        path = logs.log_path(self.home, ref.id)
        page = await anyio.to_thread.run_sync(logs.read_page, path, offset)
        # The agent writes every line before it records the end, so a terminal state read
        # before a page that reaches the end of the file means nothing more will come.
        if not page.at_eof or terminal is not None:
            done = bool(terminal) and page.at_eof
            return LogPage(lines=page.lines, cursor=str(page.next_offset), done=done)
        # At the end and the state not known: read it now, then what came before it.
        status = await self.status(ref)
        if not status.state.is_terminal:
            return LogPage(lines=page.lines, cursor=str(page.next_offset), done=False)
        rest = await anyio.to_thread.run_sync(logs.read_page, path, page.next_offset)
        return LogPage(
            lines=[*page.lines, *rest.lines], cursor=str(rest.next_offset), done=rest.at_eof
        )

    async def cancel(self, ref: JobRef) -> None:
        """Cancel: a queued job at once, a running one via its agent; no-op when ended.

        The agent sends SIGTERM to the job's process group, then SIGKILL after a grace
        period. Raises ``NotFoundError`` for an unknown job.
        """
        outcome = await self._db(self._store.cancel, ref.id)
        if outcome == "requested":
            wake.poke(self.home)
        elif outcome == "cancelled":
            wake.announce(self.home)  # other processes' waiters see it at once

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The ``limit`` most recently submitted jobs (of ``queue`` if given), newest first."""
        if limit < 1:
            raise ConfigError(f"must be at least 1, got {limit}", field="limit")
        rows = await self._db(self._store.recent_rows, limit, queue)
        return [
            row_to_status(
                row,
                self._ref(row["id"], row["idempotency_key"]),
                url=logs.log_url(self.home, row["id"]),
            )
            for row in rows
        ]

    # -- queues -------------------------------------------------------------------------

    async def create_queue(
        self,
        name: str,
        *,
        max_concurrency: int = 1,
        mode: QueueMode | str = QueueMode.FIFO,
        exist_ok: bool = True,
    ) -> QueueInfo:
        """Create a queue (or update it when it exists and ``exist_ok``).

        ``mode`` is FIFO, LIFO or PRIORITY (higher ``JobSpec.priority`` first). Bad values
        raise ``ConfigError`` naming ``name``, ``max_concurrency`` or ``mode``; an existing
        queue with ``exist_ok=False`` raises ``ConflictError``.
        """
        if not isinstance(name, str) or not _QUEUE_NAME.match(name):
            raise ConfigError(
                f"{name!r} is not a valid queue name; use letters, digits, '.', '_' or '-' "
                "(at most 64, starting with a letter or digit)",
                field="name",
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigError(
                f"must be a whole number, got {max_concurrency!r}", field="max_concurrency"
            )
        if max_concurrency < 1:
            raise ConfigError(f"must be at least 1, got {max_concurrency}", field="max_concurrency")
        row = await self._db(
            functools.partial(self._store.upsert_queue, exist_ok=exist_ok),
            name,
            max_concurrency,
            _queue_mode(mode),
        )
        return _queue_info(row)

    async def list_queues(self) -> Sequence[QueueInfo]:
        """Every queue, ``default`` included, with how many jobs wait and run in it."""
        return [_queue_info(row) for row in await self._db(self._store.list_queues)]

    # -- lifecycle ----------------------------------------------------------------------

    async def _ensure_agent(self) -> None:
        if not self.autostart_agent:
            return
        if await self._db(self._store.live_agent_ids):
            return
        await self._db(
            functools.partial(spawn.ensure_agent, self._store, idle_timeout=self.agent_idle_timeout)
        )

    def subscribe_changes(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on the running event loop whenever an agent (or a client
        cancelling a queued job) records a job's state change in this home; returns the
        function that stops it. A status hub ticks at once on it, so a job's end is seen
        within milliseconds instead of at the next poll (no-op where pipes cannot be made).
        """
        loop = asyncio.get_running_loop()
        try:
            listener = wake.ChangeListener(self.home)
        except OSError:
            return lambda: None

        def on_change() -> None:
            listener.drain()
            callback()

        loop.add_reader(listener.fileno(), on_change)

        def stop() -> None:
            with contextlib.suppress(Exception):  # the loop may be closed already
                loop.remove_reader(listener.fileno())
            listener.close()

        return stop

    async def aclose(self) -> None:
        """Close the database connection. Agents keep running until they are idle."""
        if not self._closed:
            self._closed = True
            await anyio.to_thread.run_sync(self._store.close)

    def __repr__(self) -> str:
        return f"LocalPlatform({self.url!r})"


async def open_platform(url: str, **options: object) -> LocalPlatform:
    """Open the local platform a ``local://`` URL names, creating its home (0700).

    ``options`` are :class:`LocalSettings`; an unknown one is a ``ConfigError`` naming it.
    """
    home = resolve_home(url)
    settings = load_settings(LocalSettings, url, options)
    return await LocalPlatform.open(
        home, autostart_agent=settings.autostart, agent_idle_timeout=settings.idle_timeout
    )
