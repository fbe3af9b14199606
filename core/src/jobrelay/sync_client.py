"""``Client``: the synchronous facade over :class:`jobrelay.client.AsyncClient`; every call
runs the async client on a private event loop (no logic of its own).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from jobrelay.cancelling import CANCEL_DEADLINE_S, signals_held
from jobrelay.client import AsyncClient
from jobrelay.models import JobRef, JobResult, JobSpec, JobStatus, LogPage, QueueInfo

__all__ = ["Client"]

P = ParamSpec("P")
T = TypeVar("T")


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

    def submit(self, spec: JobSpec, *, resubmit_failed: bool = True) -> JobRef:
        return self._call(self.aio.submit, spec, resubmit_failed=resubmit_failed)

    def status(self, ref: JobRef) -> JobStatus:
        return self._call(self.aio.status, ref)

    def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        return self._call(self.aio.statuses, refs)

    def logs(self, ref: JobRef, cursor: str | None = None) -> LogPage:
        return self._call(self.aio.logs, ref, cursor)

    def iter_logs(self, ref: JobRef, cursor: str | None = None) -> Iterator[LogPage]:
        """Follow the job's log: pages until the job is terminal and fully read."""
        with self._portal.wrap_async_context_manager(
            _aiter_cm(self.aio.follow_logs(ref, cursor))
        ) as it:
            while True:
                try:
                    yield self._portal.call(_anext, it)
                except StopAsyncIteration:
                    return

    def wait(self, ref: JobRef, **options: Any) -> JobResult:
        """See :meth:`AsyncClient.wait`."""
        return self._call(self.aio.wait, ref, **options)

    def run(self, spec: JobSpec, *, cancel_on_kill: bool = True, **options: Any) -> JobResult:
        """Submit and wait (:meth:`AsyncClient.run`). Ctrl-C (any interrupt of this thread)
        while it runs cancels the job when ``cancel_on_kill``, before it propagates."""
        ended = threading.Event()

        async def run() -> JobResult:
            try:
                return await self.aio.run(spec, cancel_on_kill=cancel_on_kill, **options)
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
        self._call(self.aio.cancel, ref)

    def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        return self._call(self.aio.list_jobs, limit=limit, queue=queue)

    def create_queue(self, name: str, **options: Any) -> QueueInfo:
        return self._call(self.aio.create_queue, name, **options)

    def list_queues(self) -> Sequence[QueueInfo]:
        return self._call(self.aio.list_queues)

    def close(self) -> None:
        try:
            self._call(self.aio.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)


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
