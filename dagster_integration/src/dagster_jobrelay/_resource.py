"""``JobRelayResource``: where jobs run, and a ``run(context, spec)`` for assets and ops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import (
    ConfigurableResource,
    DataVersion,
    Failure,
    InitResourceContext,
    MaterializeResult,
)
from jobrelay import (
    AsyncClient,
    Client,
    ConfigError,
    JobError,
    JobRef,
    JobResult,
    JobSpec,
    PollPolicy,
    WaitLimits,
)
from jobrelay.integration import (
    Killed,
    KillSwitch,
    check_flag,
    client_options,
    normalize_inputs,
    platform_settings,
    resolve_platform_url,
    run_record,
    run_sync,
    spec_fields,
    with_deadline,
    with_owner,
)
from pydantic import Field, SecretStr

from dagster_jobrelay._identity import Context, job_key
from dagster_jobrelay._owners import job_owner
from dagster_jobrelay._reporting import LineHandler, record_metadata, reporter, submitted
from dagster_jobrelay._termination import termination_held

__all__ = ["JobRelayResource", "run_metadata", "wait_limits"]


def wait_limits(wait: object) -> WaitLimits:
    """``wait`` as the core's :class:`~jobrelay.WaitLimits`: a ``WaitLimits``, a dict of
    its fields (as run config gives them), or None (no limits).

    A dict with a name ``WaitLimits`` does not have is a ``ConfigError`` naming it
    (``wait.NAME``); a bad value is one naming the field.
    """
    if wait is None:
        return WaitLimits()
    if isinstance(wait, WaitLimits):
        return wait
    if not isinstance(wait, Mapping):
        raise ConfigError(
            f"must be WaitLimits(...) or a dict of its fields, got {type(wait).__name__}",
            field="wait",
        )
    known = set(WaitLimits.__dataclass_fields__)
    for name in wait:
        if name not in known:
            raise ConfigError(
                f"is not a wait limit; the limits are: {', '.join(sorted(known))}",
                field=f"wait.{name}",
            )
    return WaitLimits(**wait)


class JobRelayResource(ConfigurableResource["JobRelayResource"]):
    """A jobrelay platform: its URL, its credential and its options; it runs jobs for
    assets and ops and vends clients.

    Give the credential as ``EnvVar("NAME")``: Dagster then stores only the variable's
    name (a literal string in run config or in code is stored in Dagster's database).

    Example:
        ```python
        import dagster as dg
        from dagster_jobrelay import JobRelayResource

        @dg.asset
        def train(context: dg.AssetExecutionContext, jobrelay: JobRelayResource):
            return jobrelay.run(context, {"entrypoint": "python train.py", "queue": "gpu"})

        defs = dg.Definitions(
            assets=[train],
            resources={"jobrelay": JobRelayResource(
                platform="ray://127.0.0.1:8265", credential=dg.EnvVar("RAY_TOKEN"))},
        )
        ```
    """

    platform: str | None = Field(
        default=None,
        description=(
            "The platform URL: local://, local:///srv/jobs, ray://127.0.0.1:8265, "
            "ray+https://host, wandb://team/project (default: $JOBRELAY_PLATFORM, else "
            "local://)."
        ),
    )
    credential: str | None = Field(
        default=None,
        repr=False,
        description="The platform's token or API key, if it needs one: use EnvVar('NAME').",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Platform options passed to the client, e.g. {'verify': False} (no secrets).",
    )
    artifacts: str | None = Field(
        default=None,
        description=(
            "The artifact store job inputs are resolved in and outputs are stored in "
            "(default: the platform's own)."
        ),
    )
    forward_termination: bool = Field(
        default=True,
        description=(
            "Cancel the running job when the Dagster run is terminated (the name Dagster's "
            "Pipes clients use). False: the job outlives the run, and no run owns it."
        ),
    )
    installation: str | None = Field(
        default=None,
        description=(
            "The id of this Dagster instance in the owner of every job (default: an id kept "
            "in the instance's own storage); the reaper sensor cancels only its own jobs."
        ),
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # A bad URL or option fails as the resource starts, naming the field, before any job.
        url, options = self.client_settings()
        platform_settings(url, **options)

    # -- clients ------------------------------------------------------------------------

    def client_settings(self) -> tuple[str, dict[str, Any]]:
        """The URL and options a client opens with; a bad one is a ``ConfigError``."""
        url = resolve_platform_url(self.platform)
        secret = SecretStr(self.credential) if self.credential else None
        options = client_options(url, secret, self.options)
        if self.artifacts:
            options["artifacts"] = self.artifacts
        return url, options

    def get_async_client(self, *, poll: PollPolicy | None = None) -> AsyncClient:
        """An unopened ``AsyncClient`` (open it with ``async with``). Its waiters share the
        process's status hub for these settings with every step's (``shared_hub``)."""
        url, options = self.client_settings()
        return AsyncClient(url, poll=poll, shared_hub=True, **options)

    def get_client(self) -> Client:
        """A synchronous ``Client`` (close it, or use it in a ``with`` block)."""
        url, options = self.client_settings()
        return Client(url, **options)

    # -- running jobs -------------------------------------------------------------------

    def run(
        self,
        context: Context,
        spec: JobSpec | Mapping[str, Any],
        *,
        inputs: Any = None,
        output: str | None = None,
        wait: WaitLimits | Mapping[str, Any] | None = None,
        follow_logs: bool = True,
        idempotency_key: str | None = None,
    ) -> MaterializeResult[Any]:
        """Submit the job (or reattach to it), stream its state changes and log lines to
        ``context.log`` while it runs, and return the materialization: its metadata is
        the run record (job id, platform, URL, queue, queued and ran seconds, state, exit
        code, outputs).

        ``inputs`` maps the names the job reads to artifacts (an upstream asset's
        ``ArtifactRef``, an upstream run record's ``outputs``, ``"name:alias"``).
        ``output`` names one of the job's outputs to hand to the asset's IO manager as
        the asset's value (``JobRelayIOManager`` stores it), with its digest as the data
        version. ``wait`` holds the core's limits (``WaitLimits`` or a dict of its fields);
        ``follow_logs=False`` leaves the job's lines out of the run's log. The key comes
        from the Dagster identity of the work, so a step retry reattaches to the job
        instead of submitting it again.

        Raises ``dagster.Failure`` (with the run record as metadata) when the job fails,
        is cancelled or runs out of a wait limit; Dagster's own interrupt, after the job
        was cancelled, when the run is terminated.
        """
        if output is not None and not isinstance(output, str):
            raise ConfigError(f"must name one of the job's outputs, got {output!r}", field="output")
        result = self.submit_and_wait(
            context,
            spec,
            inputs=inputs,
            wait=wait,
            follow_logs=follow_logs,
            idempotency_key=idempotency_key,
        )
        metadata = run_metadata(result)
        if output is None:
            return MaterializeResult(metadata=metadata)
        if output not in result.outputs:
            made = ", ".join(sorted(result.outputs)) or "none"
            raise Failure(
                description=f"job {result.ref.id} recorded no output {output!r} (outputs: {made})",
                metadata=metadata,
                allow_retries=False,
            )
        artifact = result.outputs[output]
        return MaterializeResult(
            metadata=metadata, data_version=DataVersion(artifact.digest), value=artifact
        )

    def submit_and_wait(
        self,
        context: Context,
        spec: JobSpec | Mapping[str, Any],
        *,
        inputs: Any = None,
        wait: WaitLimits | Mapping[str, Any] | None = None,
        follow_logs: bool = True,
        idempotency_key: str | None = None,
        take_line: LineHandler | None = None,
    ) -> JobResult:
        """What :meth:`run` does, for an op or a custom result: the finished job (the core's
        ``JobResult``, as ``Client.run`` returns it).

        ``take_line`` sees each log line first and returns True for one it consumed
        (which then is not logged): how the Pipes client reads its messages.
        """
        # Everything is checked before the submit: a bad value must not leave a job behind.
        limits = wait_limits(wait)
        check_flag(follow_logs, field="follow_logs")
        check_flag(self.forward_termination, field="forward_termination")
        job = _with_identity(spec, inputs, idempotency_key or job_key(context))
        # forward_termination=False: the job is meant to outlive the run, so it is not
        # owned by it either (the orphan sensor would cancel it once the run ended).
        owner = job_owner(context, self.installation) if self.forward_termination else None
        log = context.log
        known: list[JobRef] = []

        async def work(client: AsyncClient) -> JobResult:
            platform = await client.platform()
            owned = with_owner(job, owner, platform)
            ref = await client.submit(with_deadline(owned, limits.run_timeout, platform))
            known.append(ref)
            submitted(log, ref)
            result = await client.wait(
                ref,
                on_update=reporter(log, ref, take_line),
                follow_logs=follow_logs,
                queue_timeout=limits.queue_timeout,
                run_timeout=limits.run_timeout,
                timeout=limits.timeout,
                cancel_on_timeout=limits.cancel_on_timeout,
            )
            log.info("Job %s succeeded (exit code %s)", ref.id, result.status.exit_code)
            return result

        kill = KillSwitch()
        with termination_held(kill) as termination:
            try:
                return run_sync(
                    self.get_async_client,
                    work,
                    kill=kill,
                    job=lambda: known[0] if known else None,
                    cancel_on_kill=self.forward_termination,
                    # An error that a step retry follows leaves the job for the retry,
                    # which reattaches to it by its key; the last attempt's error cancels.
                    cancel_on_error=not _retry_follows(context),
                    logger=log,
                )
            except Killed as killed:
                log.warning("The run was terminated: %s", killed)
                termination.redeliver()
                raise
            except JobError as exc:
                ref = known[0] if known else exc.status.ref
                failed = JobResult(ref=ref, status=exc.status, outputs=exc.status.outputs)
                raise Failure(description=str(exc), metadata=run_metadata(failed)) from exc


def _retry_follows(context: Context) -> bool:
    """Whether Dagster runs this step again if it fails now (its ``RetryPolicy``)."""
    try:
        policy = context.op_def.retry_policy
    except Exception:  # a context without an op definition (a direct invocation)
        return False
    return policy is not None and context.retry_number < policy.max_retries


def run_metadata(result: JobResult) -> dict[str, Any]:
    """The run record of ``result`` as Dagster metadata (what :meth:`JobRelayResource.run`
    puts on the materialization), e.g. for an op's ``Output(metadata=...)``."""
    return record_metadata(run_record(result))


def _with_identity(spec: JobSpec | Mapping[str, Any], inputs: Any, key: str) -> JobSpec:
    fields = spec_fields(spec)
    given = normalize_inputs(fields.pop("inputs", None))
    given.update(normalize_inputs(inputs))
    return JobSpec(
        **{**fields, "inputs": given, "idempotency_key": fields.get("idempotency_key") or key}
    )
