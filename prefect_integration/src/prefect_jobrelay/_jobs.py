"""``JobRelayJob``: Prefect's ``JobBlock`` for a jobrelay job, and its ``JobRun``.

Prefect's interface stops at trigger / wait / fetch; the run here also has ``status``,
``logs`` and ``cancel``, reattaches by key, and cancels the job when the wait is cancelled.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jobrelay import AsyncClient, JobRef, JobRelayError, JobSpec, JobStatus, LogPage
from jobrelay.integration import check_flag, config_error_from, run_record
from prefect.blocks.abstract import JobBlock, JobRun
from pydantic import Field, ValidationError, field_validator

from prefect_jobrelay._credentials import DOCS, JobRelayCredentials
from prefect_jobrelay._ownership import owned
from prefect_jobrelay._reporting import run_logger, submitted
from prefect_jobrelay._running import (
    Known,
    RunOptions,
    build_spec,
    guarded,
    poll_policy,
    wait_and_record,
)

__all__ = ["JobRelayJob", "JobRelayJobRun"]

Record = dict[str, Any]


class JobRelayJob(JobBlock[Record]):
    """A job to run on a jobrelay platform: a ``JobSpec``'s fields and how to wait.

    ``trigger()`` submits it (or reattaches to the job this flow run's task already has)
    and returns a :class:`JobRelayJobRun`; its result is the run record.

    Example:
        Run a saved job and wait for it:
        ```python
        from prefect_jobrelay import JobRelayJob

        job = JobRelayJob.load("BLOCK_NAME")
        run = await job.trigger()
        await run.wait_for_completion()
        record = await run.fetch_result()
        ```
    """

    _block_type_name: ClassVar[str | None] = "JobRelay Job"
    _block_type_slug: ClassVar[str | None] = "jobrelay-job"
    _documentation_url: ClassVar[Any] = DOCS

    credentials: JobRelayCredentials = Field(description="The platform the job runs on.")
    entrypoint: str | list[str] = Field(description="The command: a shell string or an argv list.")
    job_name: str | None = Field(default=None, description="The job's display name.")
    queue: str | None = Field(default=None, description="The platform queue to submit to.")
    priority: int = Field(default=0, description="Priority within the queue (higher first).")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables for the job."
    )
    working_dir: str | None = Field(default=None, description="The job's working directory.")
    job_timeout: float | None = Field(
        default=None,
        description=(
            "Seconds each attempt may take, enforced by the platform (JobSpec.timeout_s); "
            "timeout is the wait's own limit."
        ),
    )
    max_retries: int = Field(default=0, description="How often the platform re-runs a failure.")
    config: dict[str, Any] = Field(default_factory=dict, description="Platform-specific config.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Resources the job needs, e.g. {'cpu': 2}."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags set on the job.")
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Input name to an upstream output (an ArtifactRef dict) or a reference.",
    )
    idempotency_key: str | None = Field(
        default=None,
        description="A key of your own; by default the flow run and task identity is used.",
    )
    timeout: float | None = Field(
        default=None, description="Seconds to wait in all before the job is cancelled."
    )
    queue_timeout: float | None = Field(
        default=None, description="Seconds the job may stay queued before it is cancelled."
    )
    run_timeout: float | None = Field(
        default=None, description="Seconds the job may run before it is cancelled."
    )
    poll_frequency_seconds: float = Field(
        default=5.0, description="Seconds between status checks while waiting."
    )
    follow_logs: bool = Field(
        default=True, description="Stream the job's log lines to the run logger."
    )
    cancel_on_kill: bool = Field(
        default=True, description="Cancel the job when the wait is cancelled or interrupted."
    )

    @field_validator(
        "priority",
        "max_retries",
        "job_timeout",
        "timeout",
        "queue_timeout",
        "run_timeout",
        "poll_frequency_seconds",
        mode="before",
    )
    @classmethod
    def _not_a_flag(cls, value: Any) -> Any:
        # pydantic reads True as 1 in a number field: a flag there is a mistake, not a 1.
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {value}")
        return value

    @field_validator("follow_logs", "cancel_on_kill", mode="before")
    @classmethod
    def _a_flag(cls, value: Any) -> Any:
        # pydantic reads 0, "no" or "off" as False in a flag: cancel_on_kill=0 would then
        # quietly leave the job running. A flag is true or false, as everywhere in jobrelay.
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value

    def __init__(self, *args: Any, **data: Any) -> None:
        # A mistyped field is a ConfigError naming it, as everywhere in jobrelay.
        try:
            super().__init__(*args, **data)
        except ValidationError as exc:
            raise config_error_from(exc, type(self).__name__) from None

    def check(self) -> RunOptions:
        """How a run of this job waits; ``ConfigError`` naming a bad option. Called before
        the submit, so a bad limit leaves no job behind."""
        poll_policy(self.poll_frequency_seconds)
        check_flag(self.cancel_on_kill, field="cancel_on_kill")
        return RunOptions.of(self.queue_timeout, self.run_timeout, self.timeout, self.follow_logs)

    def spec(self) -> JobSpec:
        """The ``JobSpec`` this block describes, with the Prefect identity's key."""
        return build_spec(
            {
                "entrypoint": self.entrypoint,
                "name": self.job_name,
                "queue": self.queue,
                "priority": self.priority,
                "env": self.env,
                "working_dir": self.working_dir,
                "timeout_s": self.job_timeout,
                "max_retries": self.max_retries,
                "config": self.config,
                "resources": self.resources,
                "tags": self.tags,
            },
            inputs=self.inputs,
            idempotency_key=self.idempotency_key,
        )

    async def trigger(self) -> JobRelayJobRun:
        """Submit the job (or reattach to this run's job) and return its run."""
        spec = self.spec()
        self.check()
        async with self.credentials.get_client() as client:
            owned_spec = await owned(client, spec, self.run_timeout, with_owner=self.cancel_on_kill)
            ref = await client.submit(owned_spec)
        submitted(self.logger, ref)
        return JobRelayJobRun(self, ref)


class JobRelayJobRun(JobRun[Record]):
    """One submitted job: wait for it, read its result, status and logs, cancel it."""

    def __init__(self, job: JobRelayJob, ref: JobRef) -> None:
        self.job = job
        self.ref = ref
        self._record: Record | None = None

    def __repr__(self) -> str:
        return f"JobRelayJobRun({self.ref})"

    def _client(self) -> AsyncClient:
        return self.job.credentials.get_client(poll=poll_policy(self.job.poll_frequency_seconds))

    async def wait_for_completion(self) -> None:  # type: ignore[override]
        """Wait for the job, streaming its states and lines to the run logger; the run
        record becomes an artifact. Raises the core's error for a job that did not
        succeed; a cancelled wait cancels the job (``cancel_on_kill``).

        (Prefect's abstract signature says it returns a ``Logger``; nothing uses it.)
        """
        job = self.job
        options = job.check()
        logger = run_logger()
        async with self._client() as client:
            self._record = await guarded(
                client,
                lambda: wait_and_record(client, self.ref, options, logger),
                Known(self.ref),
                cancel_on_kill=job.cancel_on_kill,
                logger=logger,
            )

    async def fetch_result(self) -> Record:
        """The run record: after :meth:`wait_for_completion`, or of a job already over."""
        if self._record is not None:
            return self._record
        async with self._client() as client:
            result = await client.result(self.ref)
        if not result.state.is_terminal:
            raise JobRelayError(
                f"job {self.ref.id} is {result.state.value}; await wait_for_completion() first"
            )
        return run_record(result)

    async def status(self) -> JobStatus:
        """The job's status now."""
        async with self._client() as client:
            return await client.status(self.ref)

    async def logs(self, cursor: str | None = None) -> LogPage:
        """One page of log lines after ``cursor``; pass ``page.cursor`` back for more."""
        async with self._client() as client:
            return await client.logs(self.ref, cursor)

    async def cancel(self) -> None:
        """Cancel the job; idempotent, and a no-op on a finished one."""
        async with self._client() as client:
            await client.cancel(self.ref)
