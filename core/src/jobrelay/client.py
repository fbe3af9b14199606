"""``AsyncClient``: all the client's logic (``jobrelay.sync_client.Client`` is its thin
sync facade).

>>> async with AsyncClient("local://") as client:          # doctest: +SKIP
...     result = await client.run(JobSpec(entrypoint="echo hello"))
...     result.state
<JobState.SUCCEEDED: 'SUCCEEDED'>
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from jobrelay._cancelling import CANCEL_DEADLINE_S, cancel_job, cancels_the_job, run_to_end
from jobrelay._checks import (
    check_client_store,
    check_flag,
    check_job_ref,
    check_job_spec,
    check_run_options,
    check_wait_options,
)
from jobrelay._following import follow_log, wait_following
from jobrelay._handoff import JobHandoff, handoff_for
from jobrelay._submitting import submit_keyed
from jobrelay._threads import run_blocking
from jobrelay.artifacts.base import ArtifactStore
from jobrelay.errors import ConfigError, JobCancelled, JobFailed
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
from jobrelay.platforms._spec_check import check_spec
from jobrelay.platforms.base import Platform, QueueAdmin
from jobrelay.platforms.registry import open_platform, settings_model
from jobrelay.urls import parse_platform_url, resolve_platform_url
from jobrelay.waiting import (
    PollPolicy,
    StatusHub,
    UpdateCallback,
    WaitLimits,
    wait_for_job,
)

__all__ = ["AsyncClient", "check_limit"]


FAILURE_LOG_LINES = 10
CLOSE_S = 10.0  # what closing the connections may take, after the cancels in flight


class AsyncClient:
    """Submit, wait on, follow, cancel and list jobs on one platform.

    ``platform`` is a URL (``local://``, ``ray://127.0.0.1:8265`` …; default
    ``$JOBRELAY_PLATFORM`` or ``local://``) or an already opened :class:`Platform`.
    ``options`` go to the platform's opener. ``poll`` overrides the platform's polling policy.
    ``artifacts`` is the artifact store (or its URL) that ``JobSpec.inputs`` are resolved in
    and job outputs are stored in; the local platform's own store by default.
    ``shared_hub=True`` makes this client's waiters share the process's status hub for its
    settings with every other such client, on any thread and event loop: N waiters cost one
    status call per tick (:mod:`jobrelay._shared_hub`). It applies to a platform given as a
    URL with options that are plain data; otherwise the client keeps a hub of its own.
    """

    def __init__(
        self,
        platform: str | Platform | None = None,
        *,
        poll: PollPolicy | None = None,
        artifacts: str | ArtifactStore | None = None,
        shared_hub: bool = False,
        **options: Any,
    ) -> None:
        self._given_platform = isinstance(platform, Platform)  # opened on some loop: not shared
        if isinstance(platform, Platform):
            self._platform: Platform | None = platform
            self._url = platform.url
        else:
            self._platform = None
            self._url = resolve_platform_url(platform)
        self._options = options
        self._poll = poll
        self._artifacts = artifacts
        self._shared_hub = check_flag(shared_hub, field="shared_hub")
        self._handoff: JobHandoff | None = None
        self._hub: StatusHub | None = None
        self._lock = asyncio.Lock()
        # What aclose waits for: cancels in flight, and runs being cancelled (their cancel
        # of the job may not have started yet).
        self._cancels: set[asyncio.Task[Any]] = set()
        self._runs: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"AsyncClient({self._url!r})"

    async def __aenter__(self) -> AsyncClient:
        await self.platform()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def platform(self) -> Platform:
        """The opened platform (opened on first use)."""
        if self._platform is None:
            async with self._lock:
                if self._platform is None:
                    self._platform = await open_platform(self._url, **self._platform_options())
        return self._platform

    def _platform_options(self) -> dict[str, Any]:
        """The opener's options. ``artifacts=`` given as a URL is also the platform's own
        ``artifacts`` setting where the platform takes one (the store its jobs reach; where
        Fused and W&B keep outputs), so the one name means one store, whichever way it is
        given (``AsyncClient(url, artifacts=...)``, an adapter's options, the URL)."""
        if not isinstance(self._artifacts, str) or "artifacts" in self._options:
            return self._options
        try:
            model = settings_model(parse_platform_url(self._url).scheme)
        except ConfigError:
            return self._options  # an unknown scheme: open_platform says so
        if "artifacts" not in model.model_fields:
            return self._options
        return {**self._options, "artifacts": self._artifacts}

    async def status_hub(self) -> StatusHub:
        """The hub that batches this client's waiters into one status call per tick."""
        platform = await self.platform()
        if self._hub is None:
            policy = self._policy(platform)
            if self._shared_hub and not self._given_platform:
                from jobrelay._shared_hub import linked_hub

                options = self._platform_options()
                self._hub = linked_hub(self._url, options, policy, platform.url)
            if self._hub is None:
                self._hub = StatusHub(platform, policy)
        return self._hub

    # -- submitting ---------------------------------------------------------------------

    async def submit(self, spec: JobSpec, *, resubmit_failed: bool = True) -> JobRef:
        """Submit ``spec``; with an idempotency key, reattach instead of submitting twice.

        An active or succeeded job under the key is returned with ``reattached=True``. A
        failed or cancelled one is resubmitted under a derived key (``key#2``, ``key#3``…)
        unless ``resubmit_failed=False``, in which case it is returned as it is.

        The spec is checked against what the platform declares before anything is sent: a
        field it cannot honour is a ``ConfigError`` naming the field.
        """
        spec = check_job_spec(spec)  # a wrong type is a ConfigError, not an AttributeError
        platform = await self.platform()
        await check_spec(spec, platform)
        handoff = await self._job_handoff()
        if handoff is not None:
            handoff.check(spec)
        if spec.idempotency_key is None:
            return await self._submit_new(platform, spec)
        return await submit_keyed(
            platform,
            spec,
            spec.idempotency_key,
            submit_new=lambda keyed: self._submit_new(platform, keyed),
            cancel=self.cancel,
            resubmit_failed=resubmit_failed,
        )

    async def _submit_new(self, platform: Platform, spec: JobSpec) -> JobRef:
        handoff = await self._job_handoff()
        if handoff is None:
            return await platform.submit(spec)
        prepared, token = await handoff.prepare(spec)
        ref = await platform.submit(prepared)
        await handoff.submitted(prepared, token, ref)
        return ref

    async def _job_handoff(self) -> JobHandoff | None:
        platform = await self.platform()
        if self._handoff is None:
            async with self._lock:  # once: 1,000 waiters that end in one tick all get here
                if self._handoff is None:
                    # Opening a store may import its module (s3fs, the W&B client): off the loop.
                    await run_blocking(check_client_store, platform, self._artifacts)
                    self._handoff = await run_blocking(handoff_for, platform, self._artifacts)
        return self._handoff

    async def artifact_store(self) -> ArtifactStore:
        """The store job inputs are resolved in and outputs are stored in."""
        handoff = await self._job_handoff()
        if handoff is None:
            raise ConfigError(
                f"{self._url} keeps artifacts itself; use its own store", field="artifacts"
            )
        return handoff.store

    # -- observing ----------------------------------------------------------------------

    async def status(self, ref: JobRef) -> JobStatus:
        """The job's status now (one platform call)."""
        return await (await self._for(ref)).status(ref)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        """Statuses of many jobs in one platform call, keyed by job id."""
        return await (await self.platform()).statuses(refs)

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        """The most recently submitted jobs, newest first (at most ``limit``, at least 1)."""
        check_limit(limit)
        return await (await self.platform()).list_jobs(limit=limit, queue=queue)

    async def logs(self, ref: JobRef, cursor: str | None = None) -> LogPage:
        """One page of log lines after ``cursor``; pass ``page.cursor`` back for the next."""
        return await (await self._for(ref)).logs(ref, cursor)

    async def read_logs(self, ref: JobRef, cursor: str | None = None) -> AsyncIterator[LogPage]:
        """Pages of the lines the log holds now after ``cursor``: a drain, not a follow.

        Stops at the end of what is written; :meth:`follow_logs` waits for more.
        """
        platform = await self._for(ref)
        while True:
            page = await platform.logs(ref, cursor)
            if page.lines:
                yield page
            if page.done or not page.lines:
                return
            cursor = page.cursor

    async def follow_logs(
        self, ref: JobRef, cursor: str | None = None, *, stop: asyncio.Event | None = None
    ) -> AsyncIterator[LogPage]:
        """Pages of new lines until the job is terminal and its last line is read.

        Every page carries the cursor after its lines, so a follower can stop anywhere and
        resume later from the saved cursor without a duplicate or a gap. ``stop`` ends the
        stream early (after the page in flight).
        """
        platform = await self._for(ref)
        async for page in follow_log(platform, ref, cursor, self._policy(platform), stop=stop):
            yield page

    # -- waiting ------------------------------------------------------------------------

    async def wait(
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
        """Wait until the job is terminal, or RUNNING when ``until=JobState.RUNNING``.

        The queue phase (QUEUED, STARTING) and the run phase each have their own limit;
        when one runs out the job is cancelled (unless ``cancel_on_timeout=False``) and
        ``JobTimeout(phase=...)`` is raised. ``on_update`` gets state and queue-position
        changes and, with ``follow_logs``, new log lines with the cursor after them.
        Raises ``JobFailed`` / ``JobCancelled`` for a job that did not succeed, unless
        ``raise_on_failure=False``.

        ``since`` (an aware datetime) continues a wait that began then, in another process
        (a restarted trigger): the queue and total limits count from ``since``, and a job
        found already RUNNING counts its run time from the platform's ``started_at``.
        """
        check_job_ref(ref)
        check_wait_options(
            {
                "until": until,
                "queue_timeout": queue_timeout,
                "run_timeout": run_timeout,
                "timeout": timeout,
                "cancel_on_timeout": cancel_on_timeout,
                "on_update": on_update,
                "follow_logs": follow_logs,
                "log_cursor": log_cursor,
                "raise_on_failure": raise_on_failure,
                "since": since,
            }
        )
        limits = WaitLimits(queue_timeout, run_timeout, timeout, cancel_on_timeout)
        hub = await self.status_hub()
        platform = await self._for(ref)

        async def waiting(updates: UpdateCallback | None) -> JobStatus:
            return await wait_for_job(
                hub,
                ref,
                until=until,
                limits=limits,
                cancel=self.cancel,
                on_update=updates,
                since=since,
                cancel_queued=platform.capabilities.cancel_queued,
            )

        if not follow_logs:
            status = await waiting(on_update)
        else:
            status = await wait_following(
                platform, ref, log_cursor, self._policy(platform), waiting, on_update
            )
        result = await self._result_of(ref, status)
        if raise_on_failure and status.state.is_terminal and not status.state.is_success:
            raise await self._job_error(ref, status)
        return result

    async def result(self, ref: JobRef) -> JobResult:
        """The job as it is now, without waiting; a succeeded job comes with its outputs.

        What a sensor or a ``wait_for="none"`` task needs: the same outputs ``wait`` gives.
        """
        return await self._result_of(ref, await self.status(ref))

    async def _result_of(self, ref: JobRef, status: JobStatus) -> JobResult:
        handoff = await self._job_handoff() if status.state.is_terminal else None
        collected = {}
        if handoff is not None and status.state.is_success:
            collected = await handoff.outputs(ref)
        elif handoff is not None:
            await handoff.discard(ref)  # a failed job's outputs are never collected
        if collected:
            status = status.model_copy(update={"outputs": {**status.outputs, **collected}})
        return JobResult(ref=ref, status=status, outputs=status.outputs)

    async def run(
        self,
        /,  # so that the sync Client's typed wrapper takes **wait_options (mypy)
        spec: JobSpec,
        *,
        cancel_on_kill: bool = True,
        on_submit: Callable[[JobRef], Awaitable[None] | None] | None = None,
        **wait_options: Any,
    ) -> JobResult:
        """Submit and wait. Every way out after the submit but the wait's own end (the
        caller cancelled, a timeout or cancel scope around it, Ctrl-C, an error raised by
        ``on_submit`` or ``on_update``) cancels the job when ``cancel_on_kill``, with a
        cancel that is not cut short (:func:`jobrelay._cancelling.cancel_job`), then
        propagates. A ``JobError`` does not: the job is over, or the wait's limit already
        cancelled it (or left it, with ``cancel_on_timeout=False``)."""
        # Every option is checked before the submit: a bad one must not leave a job behind.
        spec = check_run_options(
            spec, {"cancel_on_kill": cancel_on_kill, "on_submit": on_submit, **wait_options}
        )
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            ref = await self.submit(spec)
            try:
                if on_submit is not None:
                    result = on_submit(ref)
                    if result is not None:
                        await result
                return await self.wait(ref, **wait_options)
            except BaseException as exc:
                if cancel_on_kill and cancels_the_job(exc):
                    await cancel_job(self.cancel, ref, why=_exit_reason(exc), exiting=exc)
                raise
        finally:
            self._runs.discard(task)

    async def cancel(self, ref: JobRef) -> None:
        """Cancel the job; idempotent and safe on a finished job."""
        task = asyncio.current_task()
        assert task is not None
        self._cancels.add(task)
        try:
            await (await self._for(ref)).cancel(ref)
        finally:
            self._cancels.discard(task)

    # -- queues -------------------------------------------------------------------------

    async def create_queue(
        self,
        name: str,
        *,
        max_concurrency: int = 1,
        mode: QueueMode | str = QueueMode.FIFO,
        exist_ok: bool = True,
    ) -> QueueInfo:
        """Create (or, with ``exist_ok``, update) a named queue on the platform."""
        admin = await self._queue_admin()
        return await admin.create_queue(
            name, max_concurrency=max_concurrency, mode=_queue_mode(mode), exist_ok=exist_ok
        )

    async def list_queues(self) -> Sequence[QueueInfo]:
        """The platform's named queues (``ConfigError`` on a platform without them)."""
        return await (await self._queue_admin()).list_queues()

    async def _queue_admin(self) -> QueueAdmin:
        platform = await self.platform()
        if not isinstance(platform, QueueAdmin):
            raise ConfigError(f"platform {platform.url} has no named queues", field="queue")
        return platform

    # -- plumbing -----------------------------------------------------------------------

    def _policy(self, platform: Platform) -> PollPolicy:
        return self._poll or platform.capabilities.poll

    async def _for(self, ref: JobRef) -> Platform:
        platform = await self.platform()
        if ref.platform != platform.url:
            raise ConfigError(
                f"job {ref.id} belongs to {ref.platform}, not {platform.url}; open a client "
                f"with AsyncClient({ref.platform!r})",
                field="platform",
            )
        return platform

    async def _job_error(self, ref: JobRef, status: JobStatus) -> JobFailed | JobCancelled:
        if status.state is JobState.CANCELLED:
            return JobCancelled(f"job {ref.id} was cancelled", status)
        parts = [f"job {ref.id} failed"]
        if status.exit_code is not None:
            parts.append(f"with exit code {status.exit_code}")
        if status.message:
            parts.append(f"({status.message})")
        tail = await self.tail_logs(ref)
        text = " ".join(parts)
        if tail:
            text += "\nlast log lines:\n" + "\n".join(f"  {line.text}" for line in tail)
        return JobFailed(text, status)

    async def tail_logs(self, ref: JobRef, n: int = FAILURE_LOG_LINES) -> list[LogLine]:
        """The last ``n`` lines of the job's log."""
        tail: collections.deque[LogLine] = collections.deque(maxlen=n)
        with contextlib.suppress(Exception):  # a failure message must not hide the failure
            async for page in self.read_logs(ref):
                tail.extend(page.lines)
        return list(tail)

    async def aclose(self) -> None:
        """Close the platform's connections, once the cancels in flight have their answer.

        A cancellation of the caller (a cancel scope that ends around an ``async with``) does
        not cut the close short: it is raised once the client is closed.
        """
        # Past the deadline the connections are left to the garbage collector: a close
        # must not raise over the error (or result) of the block it ends.
        with contextlib.suppress(TimeoutError):
            await run_to_end(self._close, deadline_s=CANCEL_DEADLINE_S + CLOSE_S)

    async def _close(self) -> None:
        closing = asyncio.current_task()
        ending = {t for t in self._cancels if t is not closing}
        ending.update(t for t in self._runs if t is not closing and t.cancelling())
        if ending:
            await asyncio.wait(ending, timeout=CANCEL_DEADLINE_S)
        if self._hub is not None:
            await self._hub.aclose()
        if self._platform is not None:
            await self._platform.aclose()


def _exit_reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "the wait was cancelled"
    if isinstance(exc, Exception):
        return f"the wait ended with an error ({type(exc).__name__})"
    return f"the wait was interrupted ({type(exc).__name__})"


def check_limit(limit: object) -> int:
    """A list limit: a whole number, 1 or more (``ConfigError(field="limit")`` otherwise)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"must be a whole number, 1 or more, got {limit!r}", field="limit")
    return limit


def _queue_mode(mode: QueueMode | str) -> QueueMode:
    try:
        return QueueMode(str(mode).upper())
    except ValueError:
        raise ConfigError(
            f"unknown queue mode {mode!r}; use one of FIFO, LIFO, PRIORITY", field="mode"
        ) from None
