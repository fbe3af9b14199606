"""``Client``: the synchronous facade over :class:`jobrelay.client.AsyncClient`; every call
runs the async client on a private event loop (no logic of its own).

Every public method of ``AsyncClient`` has a counterpart here with the same name and
parameters (``aclose`` is ``close``; async iterators are plain iterators), pinned by
``tests/core/test_sync_client.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from jobrelay.artifacts.base import ArtifactStore
from jobrelay.cancelling import CANCEL_DEADLINE_S, signals_held
from jobrelay.client import FAILURE_LOG_LINES, AsyncClient
from jobrelay.models import (
    JobRef,
    JobResult,
    JobSpec,
    JobState,
    JobStatus,
    LogLine,
    LogPage,
    QueueInfo,
    QueueMode,
)
from jobrelay.platforms.base import Platform
from jobrelay.waiting import StatusHub, UpdateCallback

__all__ = ["Client"]

P = ParamSpec("P")
T = TypeVar("T")

STOP_CHECK_S = 0.05  # how soon a follow sees the caller's stop event


class Client:
    """The synchronous facade: every call runs ``AsyncClient`` on a private event loop.

    >>> with Client("local://") as client:                     # doctest: +SKIP
    ...     client.run(JobSpec(entrypoint="echo hi")).state
    <JobState.SUCCEEDED: 'SUCCEEDED'>

    Every ``Client`` has a loop of its own, so by default its waiters share the process's
    status hub for its settings (``shared_hub``, see :class:`AsyncClient`): clients waiting
    on many threads cost one status call per tick, not one each.
    """

    def __init__(
        self, platform: str | None = None, *, shared_hub: bool = True, **options: Any
    ) -> None:
        self.aio = AsyncClient(platform, shared_hub=shared_hub, **options)
        self._portal_cm = start_blocking_portal("asyncio")
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        self._closed = False

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async def call() -> T:
            return await fn(*args, **kwargs)

        return self._portal.call(call)

    # -- the opened parts (objects of the client's own event loop) -----------------------

    def platform(self) -> Platform:
        """The opened platform (opened on first use). Its plain attributes (``url``,
        ``capabilities``) are for any thread; its async methods belong to this client's loop:
        call them through this client."""
        return self._call(self.aio.platform)

    def status_hub(self) -> StatusHub:
        """The hub that batches this client's waiters into one status call per tick (an
        object of this client's loop, as :meth:`platform`)."""
        return self._call(self.aio.status_hub)

    def artifact_store(self) -> ArtifactStore:
        """The store job inputs are resolved in and outputs are stored in (an object of this
        client's loop, as :meth:`platform`)."""
        return self._call(self.aio.artifact_store)

    # -- submitting and observing ---------------------------------------------------------

    def submit(self, spec: JobSpec, *, resubmit_failed: bool = True) -> JobRef:
        """See :meth:`AsyncClient.submit`."""
        return self._call(self.aio.submit, spec, resubmit_failed=resubmit_failed)

    def status(self, ref: JobRef) -> JobStatus:
        return self._call(self.aio.status, ref)

    def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Statuses of many jobs in one platform call, keyed by job id."""
        return self._call(self.aio.statuses, refs)

    def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The most recently submitted jobs, newest first (at most ``limit``, at least 1)."""
        return self._call(self.aio.list_jobs, limit=limit, queue=queue)

    def logs(self, ref: JobRef, cursor: str | None = None) -> LogPage:
        """One page of log lines after ``cursor``; pass ``page.cursor`` back for the next."""
        return self._call(self.aio.logs, ref, cursor)

    def read_logs(self, ref: JobRef, cursor: str | None = None) -> Iterator[LogPage]:
        """Pages of the lines the log holds now after ``cursor``: a drain, not a follow
        (:meth:`AsyncClient.read_logs`)."""
        return self._iterate(self.aio.read_logs(ref, cursor))

    def follow_logs(
        self, ref: JobRef, cursor: str | None = None, *, stop: threading.Event | None = None
    ) -> Iterator[LogPage]:
        """Pages of new lines until the job is terminal and its last line is read
        (:meth:`AsyncClient.follow_logs`). ``stop``, set from any thread, ends the stream
        early (after the page in flight)."""
        if stop is None:
            return self._iterate(self.aio.follow_logs(ref, cursor))
        return self._follow_until(ref, cursor, stop)

    def iter_logs(self, ref: JobRef, cursor: str | None = None) -> Iterator[LogPage]:
        """The earlier name of :meth:`follow_logs` (kept: code written for 0.1 calls it)."""
        return self.follow_logs(ref, cursor)

    def tail_logs(self, ref: JobRef, n: int = FAILURE_LOG_LINES) -> list[LogLine]:
        """The last ``n`` lines of the job's log."""
        return self._call(self.aio.tail_logs, ref, n)

    def result(self, ref: JobRef) -> JobResult:
        """The job as it is now, without waiting; a succeeded job comes with its outputs
        (:meth:`AsyncClient.result`)."""
        return self._call(self.aio.result, ref)

    # -- waiting --------------------------------------------------------------------------

    def wait(
        self,
        ref: JobRef,
        *,
        until: JobState = JobState.SUCCEEDED,
        queue_timeout: float | None = None,
        run_timeout: float | None = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        on_update: UpdateCallback | None = None,
        follow_logs: bool = False,
        log_cursor: str | None = None,
        raise_on_failure: bool = True,
        since: datetime | None = None,
    ) -> JobResult:
        """See :meth:`AsyncClient.wait`. ``on_update`` runs on this client's loop thread."""
        return self._call(
            self.aio.wait,
            ref,
            until=until,
            queue_timeout=queue_timeout,
            run_timeout=run_timeout,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            on_update=on_update,
            follow_logs=follow_logs,
            log_cursor=log_cursor,
            raise_on_failure=raise_on_failure,
            since=since,
        )

    def run(
        self,
        spec: JobSpec,
        *,
        cancel_on_kill: bool = True,
        on_submit: Callable[[JobRef], Awaitable[None] | None] | None = None,
        **wait_options: Any,
    ) -> JobResult:
        """Submit and wait (:meth:`AsyncClient.run`). Ctrl-C (any interrupt of this thread)
        while it runs cancels the job when ``cancel_on_kill``, before it propagates.
        ``on_submit`` and ``on_update`` run on this client's loop thread."""
        ended = threading.Event()

        async def run() -> JobResult:
            try:
                return await self.aio.run(
                    spec, cancel_on_kill=cancel_on_kill, on_submit=on_submit, **wait_options
                )
            finally:
                ended.set()

        running = self._portal.start_task_soon(run)
        try:
            return running.result()
        except BaseException:
            if not running.done():
                # The interrupt landed on this thread; the run goes on on the portal's.
                # Cancelling it there cancels the job (AsyncClient.run); wait for that,
                # with further signals held back.
                with signals_held():
                    running.cancel()
                    ended.wait(CANCEL_DEADLINE_S + 5)
            raise

    def cancel(self, ref: JobRef) -> None:
        """Cancel the job; idempotent and safe on a finished job."""
        self._call(self.aio.cancel, ref)

    # -- queues ---------------------------------------------------------------------------

    def create_queue(
        self,
        name: str,
        *,
        max_concurrency: int = 1,
        mode: QueueMode | str = QueueMode.FIFO,
        exist_ok: bool = True,
    ) -> QueueInfo:
        """Create (or, with ``exist_ok``, update) a named queue on the platform."""
        return self._call(
            self.aio.create_queue,
            name,
            max_concurrency=max_concurrency,
            mode=mode,
            exist_ok=exist_ok,
        )

    def list_queues(self) -> Sequence[QueueInfo]:
        return self._call(self.aio.list_queues)

    def close(self) -> None:
        """Close the platform's connections and the client's loop (:meth:`AsyncClient.aclose`);
        a second close does nothing (``close()`` inside a ``with`` block is fine)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self.aio.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    # -- plumbing -------------------------------------------------------------------------

    def _iterate(self, pages: AsyncIterator[LogPage]) -> Iterator[LogPage]:
        """The async generator as a plain iterator; leaving the loop early closes it."""
        with self._portal.wrap_async_context_manager(_aiter_cm(pages)) as it:
            while True:
                try:
                    yield self._portal.call(_anext, it)
                except StopAsyncIteration:
                    return

    def _follow_until(
        self, ref: JobRef, cursor: str | None, stop: threading.Event
    ) -> Iterator[LogPage]:
        # The async follower takes an asyncio.Event of its own loop: a watcher task there
        # sets it once the caller's threading.Event is set.
        stopped = self._portal.call(_new_event)
        watcher = self._portal.start_task_soon(_relay_event, stop, stopped)
        try:
            yield from self._iterate(self.aio.follow_logs(ref, cursor, stop=stopped))
        finally:
            watcher.cancel()


@contextlib.asynccontextmanager
async def _aiter_cm(gen: AsyncIterator[LogPage]) -> AsyncIterator[AsyncIterator[LogPage]]:
    try:
        yield gen
    finally:
        aclose = getattr(gen, "aclose", None)
        if aclose is not None:
            await aclose()


async def _anext(it: AsyncIterator[LogPage]) -> LogPage:
    return await it.__anext__()


async def _new_event() -> asyncio.Event:
    return asyncio.Event()


async def _relay_event(source: threading.Event, target: asyncio.Event) -> None:
    # ``source`` is set on another thread, where no loop can be woken: polling it is the way
    # that leaves no thread blocked on an event that may never be set.
    while not source.is_set():  # noqa: ASYNC110
        await asyncio.sleep(STOP_CHECK_S)
    target.set()
