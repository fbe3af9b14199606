"""One job run, as the tasks, the flow, the sync helper and the job block all do it:
submit under the Prefect key, report to the run logger, wait, record the artifact."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jobrelay import AsyncClient, JobError, JobRef, JobResult, JobSpec, PollPolicy, WaitLimits
from jobrelay.integration import (
    KillSwitch,
    check_artifact_key,
    check_flag,
    normalize_inputs,
    poll_policy_from,
    run_record,
    spec_fields,
    until_killed,
)
from prefect.context import FlowRunContext, TaskRunContext

from prefect_jobrelay._identity import job_key, work_digest
from prefect_jobrelay._ownership import owned
from prefect_jobrelay._reporting import Logger, record_artifact, reporter, submitted
from prefect_jobrelay._watch import watching

__all__ = [
    "Known",
    "RunOptions",
    "build_spec",
    "guarded",
    "poll_policy",
    "submit_and_wait",
    "wait_and_record",
]

T = TypeVar("T")


@dataclass
class Known:
    """The job a run submitted, once it is known (what a cancel needs); ``owned``: whether
    the job records this run as its owner (not with ``cancel_on_kill=False``: such a job is
    meant to outlive its run, and the orphan sweep would cancel it once the run ended)."""

    ref: JobRef | None = None
    owned: bool = True


@dataclass(frozen=True)
class RunOptions:
    """How a run waits: the core's :class:`~jobrelay.WaitLimits`, log following and the
    run record's artifact."""

    limits: WaitLimits = field(default_factory=WaitLimits)
    follow_logs: bool = True
    artifact: bool = True
    artifact_key: str | None = None

    def __post_init__(self) -> None:
        # Checked as the options are made, before any submit: a bad flag (or a key Prefect
        # would refuse after the job ran) must not leave a job behind. The limits checked
        # themselves as they were made.
        check_flag(self.follow_logs, field="follow_logs")
        check_artifact_key(self.artifact_key, field="artifact_key")

    @classmethod
    def of(
        cls,
        queue_timeout: float | None,
        run_timeout: float | None,
        timeout: float | None,
        follow_logs: bool = True,
        artifact_key: str | None = None,
    ) -> RunOptions:
        """The options a task's arguments give (limits named as the core names them)."""
        return cls(WaitLimits(queue_timeout, run_timeout, timeout), follow_logs, True, artifact_key)

    def wait_kwargs(self) -> dict[str, Any]:
        return {
            "queue_timeout": self.limits.queue_timeout,
            "run_timeout": self.limits.run_timeout,
            "timeout": self.limits.timeout,
            "cancel_on_timeout": self.limits.cancel_on_timeout,
            "follow_logs": self.follow_logs,
        }


def poll_policy(poll_frequency_seconds: float | None) -> PollPolicy | None:
    """``poll_frequency_seconds`` (the JobBlock interface's knob) as the core's policy."""
    return poll_policy_from(poll_frequency_seconds, fields=("poll_frequency_seconds",) * 2)


def build_spec(
    spec: JobSpec | Mapping[str, Any],
    *,
    inputs: Any = None,
    idempotency_key: str | None = None,
) -> JobSpec:
    """The spec to submit: ``inputs`` (upstream outputs, as a run record holds them) added,
    and the key the user gave or the one the Prefect run's identity gives."""
    fields = spec_fields(spec)
    given = normalize_inputs(fields.pop("inputs", None))
    given.update(normalize_inputs(inputs))
    in_spec = fields.pop("idempotency_key", None)
    job = JobSpec(**fields, inputs=given)
    work = work_digest(json.dumps(job.model_dump(mode="json"), sort_keys=True))
    key = job_key(idempotency_key or in_spec, work=work)
    return JobSpec(**fields, inputs=given, idempotency_key=key)


async def wait_and_record(
    client: AsyncClient, ref: JobRef, options: RunOptions, logger: Logger
) -> dict[str, Any]:
    """Wait for ``ref`` reporting to ``logger``; the run record (and its artifact).

    A job that did not succeed raises the core's error after its record is stored.
    """
    try:
        result = await client.wait(ref, on_update=reporter(logger, ref), **options.wait_kwargs())
    except JobError as exc:
        record = run_record(JobResult(ref=ref, status=exc.status, outputs=exc.status.outputs))
        if options.artifact:
            await record_artifact(record, key=options.artifact_key)
        raise
    record = run_record(result)
    logger.info("Job %s %s (exit code %s)", ref.id, record["state"].lower(), record["exit_code"])
    if options.artifact:
        await record_artifact(record, key=options.artifact_key)
    return record


async def submit_and_wait(
    client: AsyncClient, spec: JobSpec, options: RunOptions, logger: Logger, known: Known
) -> dict[str, Any]:
    """Submit (or reattach) and wait; ``known`` learns the job as soon as it is submitted."""
    known.ref = await client.submit(
        await owned(client, spec, options.limits.run_timeout, with_owner=known.owned)
    )
    submitted(logger, known.ref)
    return await wait_and_record(client, known.ref, options, logger)


async def guarded(
    client: AsyncClient,
    work: Callable[[], Awaitable[T]],
    known: Known,
    *,
    cancel_on_kill: bool,
    logger: Logger,
) -> T:
    """``await work()``; a cancellation or an interrupt of the caller (a flow-run cancel,
    ``timeout_seconds``), or the flow run found cancelled (:mod:`prefect_jobrelay._watch`),
    cancels the job ``known`` holds by then, when ``cancel_on_kill``."""
    check_flag(cancel_on_kill, field="cancel_on_kill")
    kill = KillSwitch()
    return await until_killed(
        kill,
        client,
        watching(work, kill),
        job=lambda: known.ref,
        cancel=cancel_on_kill,
        cancel_on_error=not retry_follows(),
        logger=logger,
    )


def retry_follows() -> bool:
    """Whether Prefect runs this task (or flow) again if it fails now: an error then leaves
    the job for the retry, which reattaches to it by its key; the last attempt's cancels."""
    task_run_ctx = TaskRunContext.get()
    if task_run_ctx is not None:
        return task_run_ctx.task_run.run_count <= (task_run_ctx.task.retries or 0)
    flow_run_ctx = FlowRunContext.get()
    if flow_run_ctx is not None and flow_run_ctx.flow_run is not None:
        flow = flow_run_ctx.flow
        return flow is not None and flow_run_ctx.flow_run.run_count <= (flow.retries or 0)
    return False
