"""``SubmitJobOperator``: run one jobrelay job from an Airflow task.

Submitting is idempotent per task instance: the job's key comes from (dag_id, task_id,
run_id, map_index), so a retried or restarted task reattaches to an active or succeeded
job instead of submitting twice, and resubmits after a failure (the core's policy). On
Airflow 3.3+ a task waiting on a worker also keeps the job reference in the task state
store (``ResumableJobMixin``); the key alone suffices without it, and for deferred waits.

>>> train = SubmitJobOperator(                                  # doctest: +SKIP
...     task_id="train",
...     entrypoint="python train.py --epochs {{ params.epochs }}",
...     queue="gpu",
...     run_timeout=3600,
... )
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException
from jobrelay.integration import Killed, KillSwitch

from airflow_jobrelay._compat import ResumableJobMixin
from airflow_jobrelay._progress import save_start
from airflow_jobrelay.exceptions import JobRelayConfigError, refused_as_airflow_error
from airflow_jobrelay.hooks import DEFAULT_CONN_ID, JobRelayHook
from airflow_jobrelay.links import JobRelayJobLink

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context
    from jobrelay import AsyncClient, JobRef, JobResult, JobUpdate
    from jobrelay.integration import Owner

__all__ = ["SubmitJobOperator"]

T = TypeVar("T")
WaitFor = Literal["finished", "running", "none"]
_WAIT_FOR = ("finished", "running", "none")
# How Airflow resumes a task whose deferral failed, and the error it gives for a timeout
# (``airflow.sdk.bases.operator.TRIGGER_FAIL_REPR`` and ``TriggerFailureReason``, private).
_TRIGGER_FAILED = "__fail__"
_TRIGGER_TIMED_OUT = "Trigger timeout"

# JobSpec field -> the operator attribute (a template field) it comes from. ``queue`` and
# ``resources`` are BaseOperator's own (the Airflow executor's), hence the ``job_`` names.
_SPEC_ATTRS = {
    "entrypoint": "entrypoint",
    "name": "job_name",
    "queue": "job_queue",
    "priority": "priority",
    "env": "env",
    "working_dir": "working_dir",
    "config": "config",
    "resources": "job_resources",
    "tags": "tags",
    "inputs": "inputs",
    "max_retries": "max_retries",
    "timeout_s": "job_timeout",
}


class SubmitJobOperator(ResumableJobMixin, BaseOperator):
    """Submit a job to a jobrelay platform and wait for it.

    :param entrypoint: shell command or argv list (templated).
    :param jobrelay_conn_id: the ``jobrelay`` connection naming the platform (templated).
    :param job_name, job_queue, priority, env, working_dir, config, job_resources, tags,
        max_retries: the ``JobSpec`` fields ``name``, ``queue``, ... (templated).
        ``job_timeout`` is the platform-side limit per attempt (``JobSpec.timeout_s``).
    :param inputs: input name -> artifact: an upstream task's ``outputs`` entry (an
        ``XComArg`` or a template pulling it) or a reference such as ``"model:latest"``.
    :param wait_for: ``"finished"`` (default), ``"running"`` or ``"none"`` (submit only).
    :param queue_timeout: seconds the job may wait in the queue; then it is cancelled.
    :param run_timeout: seconds the job may run; then it is cancelled.
    :param deferrable: wait on the triggerer instead of holding a worker slot. Airflow
        does not apply ``execution_timeout`` to a deferred task, so it becomes the
        deferral's timeout; when that fires the job is cancelled (``cancel_on_timeout``).
    :param cancel_on_timeout: cancel the job when a phase timeout or the task's
        ``execution_timeout`` ends the wait (default true).
    :param cancel_on_kill: cancel the job when the task is killed (default true). False
        leaves the job running in every case: it is submitted without an owner, so the
        orphan sweep (``airflow_jobrelay.reaper``) leaves it alone too.
    :param poll_interval, max_poll_interval: override the platform's status polling.

    Returns (and pushes to XCom) ``{"ref", "job_id", "platform", "url", "state",
    "platform_state", "exit_code", "reattached", "outputs"}``; ``outputs`` is also pushed
    under its own key so ``task.output["outputs"]`` hands them to a downstream job.
    Raises ``JobRelayJobFailed`` (or ``JobRelayJobTimeout``) carrying the final status.
    """

    template_fields: Sequence[str] = (*_SPEC_ATTRS.values(), "jobrelay_conn_id")
    template_fields_renderers = {
        "config": "json",
        "env": "json",
        "inputs": "json",
        "job_resources": "json",
        "tags": "json",
    }
    operator_extra_links = (JobRelayJobLink(),)
    external_id_key = "jobrelay_job"
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        entrypoint: str | list[str],
        jobrelay_conn_id: str = DEFAULT_CONN_ID,
        job_name: str | None = None,
        job_queue: str | None = None,
        priority: int | None = None,
        env: dict[str, str] | None = None,
        working_dir: str | None = None,
        config: dict[str, Any] | None = None,
        job_resources: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        inputs: Mapping[str, Any] | str | None = None,
        max_retries: int | None = None,
        job_timeout: float | None = None,
        wait_for: WaitFor = "finished",
        queue_timeout: float | None = None,
        run_timeout: float | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if wait_for not in _WAIT_FOR:
            raise JobRelayConfigError(
                f"must be one of {', '.join(_WAIT_FOR)}, got {wait_for!r}", field="wait_for"
            )
        self.entrypoint = entrypoint
        self.jobrelay_conn_id = jobrelay_conn_id
        self.job_name, self.job_queue, self.priority = job_name, job_queue, priority
        self.env, self.working_dir, self.config = env, working_dir, config
        self.job_resources, self.tags, self.inputs = job_resources, tags, inputs
        self.max_retries, self.job_timeout = max_retries, job_timeout
        self.wait_for: WaitFor = wait_for
        self.queue_timeout, self.run_timeout = queue_timeout, run_timeout
        self.cancel_on_timeout, self.cancel_on_kill = cancel_on_timeout, cancel_on_kill
        self.deferrable = deferrable
        self.poll_interval, self.max_poll_interval = poll_interval, max_poll_interval
        self._conn: Connection | None = None
        self._ref: JobRef | None = None
        self._result: dict[str, Any] | None = None
        self._interrupt = KillSwitch()  # a kill stops the running wait; see on_kill
        self._executing = False
        self._check_arguments()

    # -- Airflow entry points -----------------------------------------------------------

    def execute(self, context: Context) -> Any:
        with self._running():
            if not self.deferrable or self.wait_for == "none":
                return self.execute_resumable(context)
            ref = self.submit_job(context)
            if self._interrupt.requested:  # killed since the submit: do not defer
                self._call(self._stop_killed, interruptible=False)
            save_start(context, ref["id"])
            self.defer(  # raises
                trigger=self._trigger(ref),
                method_name="execute_complete",
                timeout=self.execution_timeout,
            )
            return None

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context
    ) -> Any:
        """Resume after deferral; when the deferral timed out, cancel the job first.

        The scheduler ends a deferral that outlived its timeout by resuming the task with
        Airflow's failure marker, and the base class raises ``TaskDeferralTimeout``. The
        trigger that was waiting is gone by then, so the job would otherwise run on. A
        trigger that failed for another reason leaves the job alone: a retry reattaches.
        """
        error = (next_kwargs or {}).get("error")
        with self._running():
            if next_method == _TRIGGER_FAILED and error == _TRIGGER_TIMED_OUT:
                self._cancel_after_deferral_timeout(context)
            return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: copy the job's log from the cursor, then finish.

        A wait that failed for a reason other than the job raises that error (an
        ``AuthError`` stays an ``AuthError``), without touching the platform again.
        """
        from jobrelay.integration import TerminalEvent

        from airflow_jobrelay._spec import result_from_event

        parsed = TerminalEvent.from_json(event)
        if parsed.outcome == "error":
            result_from_event(event)  # raises the error the trigger met
        self._ref = ref = parsed.ref
        self._call(lambda client: self._copy_logs(client, ref, parsed.cursor))
        return self._finish(context, result_from_event(event))

    def on_kill(self) -> None:
        """The task was killed (or timed out): stop waiting and cancel the job.

        Airflow calls this from its SIGTERM handler while ``execute`` still runs on the
        same thread, maybe holding a lock; then it only interrupts the running (or next)
        call, which cancels the job once the handler has returned (``KillSwitch``). A kill
        during the submit call takes effect as soon as the job is known. Called after
        ``execute`` ended (Airflow's ``execution_timeout`` does so), it cancels here.
        """
        self._interrupt.request()
        if self._executing or not self.cancel_on_kill or self._ref is None or self._conn is None:
            return
        self.log.info("Cancelling job %s: the task was killed", self._ref.id)
        with self._hook().sync_client_from_connection(self._conn) as client:
            client.cancel(self._ref)

    # -- ResumableJobMixin ----------------------------------------------------------------

    def submit_job(self, context: Context) -> dict[str, Any]:
        from airflow_jobrelay._spec import build_spec, idempotency_key

        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        key = idempotency_key(ti.dag_id, ti.task_id, ti.run_id, map_index)
        tags = {"airflow_dag_id": ti.dag_id, "airflow_task_id": ti.task_id}
        fields = {field: getattr(self, attr) for field, attr in _SPEC_ATTRS.items()}
        with refused_as_airflow_error():  # the rendered values, before anything is sent
            spec = build_spec(fields, key=key)
        owner = self._owner(ti)
        if self._interrupt.requested:
            raise AirflowException("the task was killed before its job was submitted")

        async def submit(client: AsyncClient) -> JobRef:
            from jobrelay.integration import with_deadline, with_owner, with_provenance

            platform = await client.platform()
            if spec.working_dir is None and platform.capabilities.shared_filesystem:
                # Unlike BashOperator's temporary directory: the job may outlive this try.
                self.log.info(
                    "No working_dir is set: the job runs in this worker's current directory, "
                    "%s (set working_dir to choose one)",
                    os.getcwd(),
                )
            owned = with_deadline(with_owner(spec, owner, platform), self.run_timeout, platform)
            return await client.submit(with_provenance(owned, tags, platform))

        # Not interruptible: a kill must not lose the reference of a job just created.
        self._ref = ref = self._call(submit, interruptible=False)
        if self._interrupt.requested:  # the kill came while submitting
            self._call(self._stop_killed, interruptible=False)
        verb = "Reattached to" if ref.reattached else "Submitted"
        self.log.info("%s job %s on %s (key %s)", verb, ref.id, ref.platform, key)
        if ref.url:
            self.log.info("Job page: %s", ref.url)
        JobRelayJobLink.persist(context, ref.url)
        context["ti"].xcom_push(key=self.external_id_key, value=ref.model_dump(mode="json"))
        return ref.model_dump(mode="json")

    def get_job_status(self, external_id: Any, context: Context) -> str:
        from jobrelay import JobRef, JobRelayError

        self._ref = ref = JobRef.model_validate(external_id)  # a kill now cancels it
        try:
            return self._call(lambda client: client.status(ref)).state.value
        except JobRelayError as exc:  # gone, or on another platform now: submit again
            self.log.warning("Stored job %s cannot be read (%s); submitting again", ref.id, exc)
            return "UNKNOWN"

    def is_job_active(self, status: str) -> bool:
        from jobrelay import JobState

        return JobState(status).is_active

    def is_job_succeeded(self, status: str) -> bool:
        return status == "SUCCEEDED"

    # The mixin returns this method's value on a reconnect, so it returns the result too.
    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        from jobrelay import JobRef

        self._ref = ref = JobRef.model_validate(external_id)
        if self.wait_for == "none":  # a read: the job outlives the task on purpose
            result = self._call(lambda client: client.result(ref))
        else:
            result = self._wait(ref, context)
        return self._finish(context, result)

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        if self._result is None:  # a retry found the job already succeeded
            return self.poll_until_complete(external_id, context)
        return self._result

    # -- helpers --------------------------------------------------------------------------

    def _check_arguments(self) -> None:
        """Refuse a bad argument as the DAG is parsed, before any task runs: the wait and
        polling options, and the job's fields unless one is templated (those are checked
        once rendered, before the submit). ``JobRelayConfigError`` names the argument."""
        from jobrelay.integration import check_flag, check_wait_options, poll_policy_from

        from airflow_jobrelay._spec import build_spec, templated

        with refused_as_airflow_error():
            check_wait_options(
                {
                    "queue_timeout": self.queue_timeout,
                    "run_timeout": self.run_timeout,
                    "cancel_on_timeout": self.cancel_on_timeout,
                }
            )
            check_flag(self.cancel_on_kill, field="cancel_on_kill")
            check_flag(self.deferrable, field="deferrable")
            poll_policy_from(self.poll_interval, self.max_poll_interval)
            fields = {field: getattr(self, attr) for field, attr in _SPEC_ATTRS.items()}
            if not templated(fields):
                build_spec(fields, key="airflow:check")
            if isinstance(self.jobrelay_conn_id, str) and not self.jobrelay_conn_id.strip():
                raise JobRelayConfigError("must name a connection", field="jobrelay_conn_id")

    def _owner(self, ti: Any) -> Owner | None:
        """The job's owner: this task instance, or its DAG run for a job that outlives the
        task on purpose (``wait_for`` running or none); see ``airflow_jobrelay._owners``.

        ``cancel_on_kill=False`` leaves the job running in every case, so it has no owner:
        the orphan sweep cancels only owned jobs. (A DAG-run owner would still have it
        cancelled once the run ended; the job keeps its provenance tags and key.)"""
        from airflow_jobrelay._owners import installation_id, task_owner

        if not self.cancel_on_kill:
            self.log.info(
                "cancel_on_kill is off: the job has no owner, and the orphan sweep leaves it"
            )
            return None
        try:
            installation = installation_id()
        except ValueError as exc:  # a bad [jobrelay] installation: the user's to fix
            raise AirflowException(str(exc)) from None
        except Exception as exc:  # the API server did not answer: submit all the same
            self.log.warning(
                "This Airflow's installation id could not be read (%s): the job has no "
                "owner, and the orphan sweep will not see it",
                exc,
            )
            return None
        return task_owner(ti, installation, run_scoped=self.wait_for != "finished")

    def _cancel_after_deferral_timeout(self, context: Context) -> None:
        from jobrelay import JobRef

        stored = context["ti"].xcom_pull(key=self.external_id_key)
        if not self.cancel_on_timeout or stored is None:
            return
        self._ref = ref = JobRef.model_validate(stored)
        self.log.info("Cancelling job %s: the task timed out while deferred", ref.id)
        self._call(lambda client: client.cancel(ref))

    def _hook(self) -> JobRelayHook:
        return JobRelayHook(self.jobrelay_conn_id)

    @contextmanager
    def _running(self) -> Iterator[None]:
        self._executing = True
        try:
            yield
        finally:
            self._executing = False

    def _call(
        self,
        fn: Callable[[AsyncClient], Awaitable[T]],
        *,
        interruptible: bool = True,
        cancel_on_error: bool = False,
    ) -> T:
        """Run ``fn(client)``; a kill (``on_kill``) stops it and cancels the job, unless
        not ``interruptible``. An ordinary error raised by ``fn`` cancels the job only with
        ``cancel_on_error``: the wait says so when the task has no try left (see
        ``_wait``); a submit, a read or a log copy never does."""
        hook = self._hook()
        if self._conn is None:  # kept: on_kill must not look the connection up again
            self._conn = hook.get_connection(self.jobrelay_conn_id)
        conn = self._conn
        from jobrelay.integration import run_sync  # the client: when a task runs, not at parse

        try:
            return run_sync(
                lambda: hook.open_client(hook.client_from_connection(conn)),
                fn,
                kill=self._interrupt if interruptible else None,
                job=lambda: self._ref,
                cancel_on_kill=self.cancel_on_kill,
                logger=self.log,
                cancel_on_error=cancel_on_error,
            )
        except Killed as exc:
            raise AirflowException(str(exc)) from None

    async def _stop_killed(self, client: AsyncClient) -> NoReturn:
        from jobrelay.integration import cancel_after_kill

        await cancel_after_kill(client, self._ref, cancel=self.cancel_on_kill, logger=self.log)

    def _wait(self, ref: JobRef, context: Context) -> JobResult:
        """Wait on a worker for ``ref`` (following its log into the task's).

        An ordinary error in the wait (the platform refusing a status read, a failing log
        handler) cancels the job only when Airflow will not retry the task: a try that
        will be retried leaves the job for the next one, which reattaches to it by its
        key. The job's own end (failed, cancelled, a limit) is raised as
        ``JobRelayJobFailed``/``JobRelayJobTimeout`` outside the guarded call, so it
        never cancels: a limit with ``cancel_on_timeout=False`` leaves the job running.
        """
        from jobrelay import JobCancelled, JobFailed, JobTimeout

        from airflow_jobrelay.exceptions import JobRelayJobFailed, JobRelayJobTimeout

        retried = will_retry(context["ti"], self.retries)
        try:
            return self._call(
                lambda client: self._wait_following(client, ref), cancel_on_error=not retried
            )
        except JobTimeout as exc:
            status = exc.status.model_dump(mode="json")
            raise JobRelayJobTimeout(str(exc), status, phase=exc.phase) from exc
        except (JobFailed, JobCancelled) as exc:
            raise JobRelayJobFailed(str(exc), exc.status.model_dump(mode="json")) from exc
        except Exception as exc:
            if retried and not isinstance(exc, AirflowException):
                self.log.warning(
                    "The wait for job %s failed (%s); it keeps running for the task's "
                    "next try to reattach",
                    ref.id,
                    type(exc).__name__,
                )
            raise

    async def _wait_following(self, client: AsyncClient, ref: JobRef) -> JobResult:
        from jobrelay import JobState

        return await client.wait(
            ref,
            until=JobState.RUNNING if self.wait_for == "running" else JobState.SUCCEEDED,
            queue_timeout=self.queue_timeout,
            run_timeout=self.run_timeout,
            cancel_on_timeout=self.cancel_on_timeout,
            on_update=self._render_update,
            follow_logs=True,
        )

    def _render_update(self, update: JobUpdate) -> None:
        from airflow_jobrelay._logs import log_update

        log_update(self.log, update)

    async def _copy_logs(self, client: AsyncClient, ref: JobRef, cursor: str | None) -> None:
        """Copy the lines after ``cursor`` that are there now (a drain, not a follow)."""
        async for page in client.read_logs(ref, cursor):
            for line in page.lines:
                self.log.info("%s", line.text)

    def _trigger(self, ref: dict[str, Any]) -> Any:
        from airflow_jobrelay.triggers import JobTrigger

        return JobTrigger(
            job=ref,
            jobrelay_conn_id=self.jobrelay_conn_id,
            wait_for="running" if self.wait_for == "running" else "finished",
            queue_timeout=self.queue_timeout,
            run_timeout=self.run_timeout,
            cancel_on_timeout=self.cancel_on_timeout,
            cancel_on_kill=self.cancel_on_kill,
            log_cursor=None,
            follow_logs=True,
            waiting_since=datetime.now(UTC).isoformat(),
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )

    def _finish(self, context: Context, result: JobResult) -> dict[str, Any]:
        from airflow_jobrelay._spec import result_to_xcom

        value = result_to_xcom(result)
        self.log.info("Job %s ended as %s", result.ref.id, value["state"])
        JobRelayJobLink.persist(context, value["url"])
        context["ti"].xcom_push(key="outputs", value=value["outputs"])
        self._result = value
        return value


def will_retry(ti: Any, retries: int | None) -> bool:
    """Whether Airflow gives task instance ``ti`` another try if it fails now.

    Airflow's own rule (the execution API's ``should_retry``): ``max_tries`` is not 0 and
    the try number is at most ``max_tries`` (which starts at the task's ``retries`` and
    grows when the task is cleared). A task instance without ``max_tries`` counts
    ``retries``."""
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(max_tries, int) or isinstance(max_tries, bool):
        max_tries = retries or 0
    try_number = getattr(ti, "try_number", None) or 1
    return max_tries != 0 and int(try_number) <= max_tries
