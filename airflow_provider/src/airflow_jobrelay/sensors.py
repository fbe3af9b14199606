"""``JobSensor``: wait for a job that already exists (submitted elsewhere or upstream)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException
from jobrelay.integration import Killed, KillSwitch

from airflow_jobrelay.exceptions import refused_as_airflow_error
from airflow_jobrelay.hooks import DEFAULT_CONN_ID, JobRelayHook

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

__all__ = ["JobSensor"]


class JobSensor(BaseSensorOperator):
    """Succeed when the job succeeds; fail with ``JobRelayJobFailed`` when it does not.

    :param job: the job: a ``JobRef`` dict, a ``SubmitJobOperator`` result (``XComArg`` or
        template), e.g. ``submit.output`` of an upstream task with ``wait_for="none"``.
    :param jobrelay_conn_id: the ``jobrelay`` connection of the job's platform.
    :param deferrable: wait on the triggerer (one shared status call per tick for all
        deferred jobs of a platform) instead of poking from a worker.
    :param cancel_on_kill: cancel the job when this sensor is killed (default false: the
        sensor does not own the job).

    Returns (and pushes to XCom) the same dict as ``SubmitJobOperator``.
    """

    template_fields: Sequence[str] = ("job", "jobrelay_conn_id")

    def __init__(
        self,
        *,
        job: Any,
        jobrelay_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.jobrelay_conn_id = jobrelay_conn_id
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill
        self._conn: Connection | None = None  # kept: on_kill must not look it up again
        self._interrupt = KillSwitch()
        with refused_as_airflow_error():  # as the DAG is parsed, before any poke
            from jobrelay.integration import check_flag

            from airflow_jobrelay._spec import templated

            check_flag(deferrable, field="deferrable")
            check_flag(cancel_on_kill, field="cancel_on_kill")
            if not templated(job):
                self._ref_dict()

    def _ref_dict(self) -> dict[str, Any]:
        """The job's reference; ``JobRelayConfigError(field="job")`` if ``job`` is none."""
        from jobrelay import ConfigError

        from airflow_jobrelay._spec import job_ref_from

        with refused_as_airflow_error():
            try:
                return job_ref_from(self.job)
            except ConfigError as exc:
                message = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
                raise ConfigError(message, field="job") from None

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_jobrelay.triggers import JobTrigger

        trigger = JobTrigger(
            job=self._ref_dict(),
            jobrelay_conn_id=self.jobrelay_conn_id,
            cancel_on_timeout=False,
            cancel_on_kill=self.cancel_on_kill,
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def poke(self, context: Context) -> PokeReturnValue:
        from jobrelay import JobRef

        from airflow_jobrelay._spec import result_to_xcom
        from airflow_jobrelay.exceptions import JobRelayJobFailed

        ref = JobRef.model_validate(self._ref_dict())
        hook = JobRelayHook(self.jobrelay_conn_id)
        if self._conn is None:
            self._conn = hook.get_connection(self.jobrelay_conn_id)
        conn = self._conn
        from jobrelay.integration import run_sync  # the client: when a task runs, not at parse

        try:
            result = run_sync(
                lambda: hook.open_client(hook.client_from_connection(conn)),
                lambda client: client.result(ref),
                kill=self._interrupt,
                job=lambda: ref,
                cancel_on_kill=self.cancel_on_kill,
                logger=self.log,
                # A poke that could not read the job says nothing about it: the next poke
                # (or the sensor's retry) reads it again. Only a kill cancels it.
                cancel_on_error=False,
            )
        except Killed as exc:
            raise AirflowException(str(exc)) from None
        status = result.status
        self.log.info("Job %s is %s", ref.id, status.state.value)
        if not status.state.is_terminal:
            return PokeReturnValue(is_done=False)
        if not status.state.is_success:
            dumped = status.model_dump(mode="json")
            raise JobRelayJobFailed(f"job {ref.id} ended as {status.state.value}", dumped)
        return PokeReturnValue(is_done=True, xcom_value=result_to_xcom(result))

    def on_kill(self) -> None:
        """Killed: stop poking; cancel the job only when ``cancel_on_kill`` (it is not ours).

        Airflow calls this from its SIGTERM handler. A poke in flight is only interrupted
        here and cancels the job itself once the handler returned (see ``KillSwitch``);
        between pokes the sensor sleeps and holds no lock, so the job is cancelled here.
        """
        if self._interrupt.request() or not self.cancel_on_kill or self._conn is None:
            return
        from jobrelay import JobRef

        from airflow_jobrelay._spec import job_ref_from

        ref = JobRef.model_validate(job_ref_from(self.job))
        self.log.info("Cancelling job %s: the task was killed", ref.id)
        with JobRelayHook(self.jobrelay_conn_id).sync_client_from_connection(self._conn) as client:
            client.cancel(ref)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        from airflow_jobrelay._spec import result_from_event, result_to_xcom

        return result_to_xcom(result_from_event(event))
