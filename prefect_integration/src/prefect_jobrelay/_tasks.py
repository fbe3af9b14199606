"""Prefect tasks: submit, wait for, cancel and read the logs of jobs; run one end to end.

Every task returns JSON (a job ref dict, a run record), so results travel through Prefect
unchanged and a downstream job takes an upstream's ``outputs`` as its ``inputs``.

Running a job end to end follows Prefect's own ``foo``/``afoo`` convention
(``@async_dispatch``, as in prefect-aws): :func:`arun_job` is the async task;
:func:`run_job` is the sync one, and in an async flow or task it dispatches to
:func:`arun_job`, so ``await run_job(...)`` works there too. Their bodies, for use inside
a task of your own without a task run of theirs, are ``arun_job.fn`` and ``run_job.fn``.
The other tasks are async; Prefect runs them from sync flows as well.

>>> @flow(on_cancellation=[cancel_flow_run_jobs(creds)], on_crashed=[cancel_flow_run_jobs(creds)])
... async def pipeline():                                     # doctest: +SKIP
...     trained = await arun_job(creds, {"entrypoint": "python train.py"})
...     await arun_job(creds, {"entrypoint": "python eval.py"}, inputs=trained["outputs"])
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from jobrelay import AsyncClient, ConfigError, JobSpec, PollPolicy
from jobrelay.integration import KillSwitch, check_flag, job_ref_from, run_sync
from prefect import Task, task
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.cache_policies import NO_CACHE

from prefect_jobrelay._credentials import JobRelayCredentials, resolve_credentials
from prefect_jobrelay._ownership import owned
from prefect_jobrelay._reporting import Logger, run_logger, submitted
from prefect_jobrelay._running import (
    Known,
    RunOptions,
    build_spec,
    guarded,
    poll_policy,
    retry_follows,
    submit_and_wait,
    wait_and_record,
)
from prefect_jobrelay._watch import watching

__all__ = ["arun_job", "cancel_job", "get_job_logs", "run_job", "submit_job", "wait_for_job"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
Spec = JobSpec | Mapping[str, Any]
Credentials = JobRelayCredentials | str


@task(cache_policy=NO_CACHE)
async def submit_job(
    credentials: Credentials,
    spec: Spec,
    inputs: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Submit a job (or reattach to this task's earlier one); returns its job ref as JSON.

    ``spec`` is a ``JobSpec`` or its fields; ``inputs`` maps input names to upstream
    outputs (``ArtifactRef`` dicts) or references such as ``"model:latest"``.
    """
    creds = await resolve_credentials(credentials)
    job = build_spec(spec, inputs=inputs, idempotency_key=idempotency_key)
    async with creds.get_client() as client:
        ref = await client.submit(await owned(client, job, None))
    submitted(run_logger(), ref)
    return ref.model_dump(mode="json")


@task(cache_policy=NO_CACHE)
async def wait_for_job(
    credentials: Credentials,
    job: Any,
    queue_timeout: float | None = None,
    run_timeout: float | None = None,
    timeout: float | None = None,
    poll_frequency_seconds: float | None = None,
    follow_logs: bool = True,
    artifact_key: str | None = None,
    cancel_on_kill: bool = True,
) -> dict[str, Any]:
    """Wait for a job (a job ref, its JSON or a run record), streaming its state changes
    and log lines to the run logger; returns the run record and stores it as an artifact.

    A job that fails or is cancelled fails the task (``JobFailed``/``JobCancelled``); a
    limit that runs out cancels the job and raises ``JobTimeout``. When the task is
    cancelled (flow-run cancel, ``timeout_seconds``) the job is cancelled too, unless
    ``cancel_on_kill=False``.
    """
    ref = job_ref_from(job)
    options = RunOptions.of(queue_timeout, run_timeout, timeout, follow_logs, artifact_key)
    poll = poll_policy(poll_frequency_seconds)
    creds = await resolve_credentials(credentials)
    logger = run_logger()
    async with creds.get_client(poll=poll) as client:
        return await guarded(
            client,
            lambda: wait_and_record(client, ref, options, logger),
            Known(ref),
            cancel_on_kill=cancel_on_kill,
            logger=logger,
        )


@task(cache_policy=NO_CACHE)
async def cancel_job(credentials: Credentials, job: Any) -> None:
    """Cancel a job; idempotent, and a no-op on a finished one."""
    creds = await resolve_credentials(credentials)
    ref = job_ref_from(job)
    async with creds.get_client() as client:
        await client.cancel(ref)
    run_logger().info("Cancel sent to job %s", ref.id)


@task(cache_policy=NO_CACHE)
async def get_job_logs(
    credentials: Credentials, job: Any, cursor: str | None = None
) -> dict[str, Any]:
    """The job's log lines now held after ``cursor``: ``{"lines": [...], "cursor": ...}``;
    pass ``cursor`` back for the lines after these."""
    creds = await resolve_credentials(credentials)
    ref = job_ref_from(job)
    lines: list[str] = []
    async with creds.get_client() as client:
        async for page in client.read_logs(ref, cursor):
            lines.extend(line.text for line in page.lines)
            cursor = page.cursor
    return {"lines": lines, "cursor": cursor}


@dataclass(frozen=True)
class _Run:
    """One :func:`arun_job` or :func:`run_job` call, its arguments checked (nothing is
    submitted before they are)."""

    credentials: Credentials
    job: JobSpec
    options: RunOptions
    poll: PollPolicy | None
    cancel_on_kill: bool
    known: Known
    logger: Logger


def _run_arguments(
    credentials: Credentials,
    spec: Spec,
    inputs: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    queue_timeout: float | None = None,
    run_timeout: float | None = None,
    timeout: float | None = None,
    poll_frequency_seconds: float | None = None,
    follow_logs: bool = True,
    artifact_key: str | None = None,
    cancel_on_kill: bool = True,
) -> _Run:
    """The parameters of :func:`arun_job` and :func:`run_job`, defined here once (the two
    tasks take them through :func:`_parameters_of`), as one checked :class:`_Run`."""
    job = build_spec(spec, inputs=inputs, idempotency_key=idempotency_key)
    options = RunOptions.of(queue_timeout, run_timeout, timeout, follow_logs, artifact_key)
    check_flag(cancel_on_kill, field="cancel_on_kill")
    return _Run(
        credentials=credentials,
        job=job,
        options=options,
        poll=poll_policy(poll_frequency_seconds),
        cancel_on_kill=cancel_on_kill,
        known=Known(owned=cancel_on_kill),
        logger=run_logger(),
    )


def _parameters_of(arguments: Callable[P, object]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give a ``fn(*args, **kwargs)`` that passes its arguments on to ``arguments`` the
    parameters of ``arguments`` (its signature and annotations: what ``inspect``, Prefect's
    parameter binding and type checkers read), keeping ``fn``'s own return annotation."""
    signature = inspect.signature(arguments)

    def give(fn: Callable[..., R]) -> Callable[P, R]:
        returns = inspect.signature(fn).return_annotation
        fn.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
        fn.__annotations__ = {**arguments.__annotations__, "return": returns}
        return fn

    return give


@task(cache_policy=NO_CACHE)
@_parameters_of(_run_arguments)
async def arun_job(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Submit a job and wait for it (:func:`submit_job` then :func:`wait_for_job` in one
    task, so a retry or a rerun of the flow run reattaches to the same job); returns the
    run record. ``queue_timeout``, ``run_timeout`` and ``timeout`` are the core's wait
    limits; a cancel of the task (flow-run cancel, ``timeout_seconds``) cancels the job,
    unless ``cancel_on_kill=False``."""
    run = _run_arguments(*args, **kwargs)
    creds = await resolve_credentials(run.credentials)
    async with creds.get_client(poll=run.poll) as client:
        return await guarded(
            client,
            lambda: submit_and_wait(client, run.job, run.options, run.logger, run.known),
            run.known,
            cancel_on_kill=run.cancel_on_kill,
            logger=run.logger,
        )


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@task(cache_policy=NO_CACHE)
@_parameters_of(_run_arguments)
def run_job(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`arun_job` as a sync task (the core's sync bridge, one private loop); in an
    async flow or task, ``run_job(...)`` is ``arun_job(...)``.

    Prefect's termination signal and its ``timeout_seconds`` interrupt the wait, and the
    job is cancelled before the interrupt propagates. Raises ``ConfigError`` where an event
    loop already runs on this thread (a sync task called directly from an async flow runs
    there): await :func:`arun_job` there instead.
    """
    if _loop_running():
        raise ConfigError(
            "run_job's sync body was called on a thread that runs an event loop (a sync "
            "task called directly from an async flow runs on the flow's loop); await "
            "arun_job (or arun_job.fn) there instead, or .submit() the sync task"
        )
    run = _run_arguments(*args, **kwargs)

    async def open_client() -> AsyncClient:
        return (await resolve_credentials(run.credentials)).get_client(poll=run.poll)

    kill = KillSwitch()
    return run_sync(
        open_client,
        lambda client: watching(
            lambda: submit_and_wait(client, run.job, run.options, run.logger, run.known), kill
        )(),
        kill=kill,
        job=lambda: run.known.ref,
        cancel_on_kill=run.cancel_on_kill,
        cancel_on_error=not retry_follows(),
        logger=run.logger,
    )


def _dispatching(sync_task: T, async_task: Task[Any, Any]) -> T:
    """``sync_task`` that is ``async_task`` in an async context (Prefect's
    ``@async_dispatch``), keeping the sync task's ``fn``, ``submit``, ``map``,
    ``with_options`` and ``name`` (the dispatcher alone has only ``fn``)."""
    dispatcher = async_dispatch(async_task)(sync_task)  # type: ignore[arg-type]
    for name in ("fn", "submit", "map", "with_options", "delay", "name"):
        setattr(dispatcher, name, getattr(sync_task, name))
    return cast("T", dispatcher)


# Typed as the sync task: a sync caller gets the record (await arun_job in async code).
run_job = _dispatching(run_job, arun_job)
