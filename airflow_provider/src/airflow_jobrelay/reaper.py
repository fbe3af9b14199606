"""``CancelOrphanedJobsOperator``: cancel the jobs whose Airflow task has ended.

A deferred task marked failed before the triggerer ran its trigger, or while no triggerer
runs, never runs the code that would cancel its job. This operator, in a DAG on a short
schedule, is the second line: it lists the platform's active jobs of this Airflow
(:mod:`airflow_jobrelay._owners`), reads their tasks' states through the Task SDK in one
call per DAG, and cancels each job whose task ended (or no longer exists) longer than
``grace_period`` seconds ago. A job whose task is alive, cleared, retrying, or whose state
cannot be read is left alone (:func:`jobrelay.integration.sweep`).

>>> from airflow_jobrelay.reaper import orphan_sweep_dag     # doctest: +SKIP
>>> dag = orphan_sweep_dag()                                  # every minute, jobrelay_default

The grace period counts from the first sweep that saw the task ended (Airflow's task
states carry no end time); that memory is kept in the Airflow Variable
``jobrelay_sweep_memory__<conn id>`` between sweeps. A Variable, not the previous run's
XCom: Airflow 3 clears a task's XComs when it is retried or cleared, and finding "the
previous run" needs logical dates that manual runs do not have.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException
from jobrelay.integration import check_grace, stored_memory

from airflow_jobrelay.hooks import DEFAULT_CONN_ID, JobRelayHook

if TYPE_CHECKING:
    from airflow.sdk import DAG, Context
    from jobrelay import AsyncClient
    from jobrelay.integration import SweepReport

__all__ = ["CancelOrphanedJobsOperator", "memory_variable", "orphan_sweep_dag"]

DEFAULT_GRACE_PERIOD = 60.0


def memory_variable(jobrelay_conn_id: str) -> str:
    """The Variable that keeps a reaper's grace memory for one connection (platform)."""
    return f"jobrelay_sweep_memory__{jobrelay_conn_id}"


class CancelOrphanedJobsOperator(BaseOperator):
    """Cancel the active jobs of this Airflow whose task has ended (see the module).

    :param jobrelay_conn_id: the ``jobrelay`` connection of the platform to sweep.
    :param grace_period: seconds a task must have been ended before its job is cancelled
        (default 60; a Clear within it keeps the job for the task's next try).
    :param dry_run: log and return what would be cancelled, cancel nothing.

    Returns (and pushes to XCom) the sweep's summary: ``active_jobs_of_installation``,
    ``cancelled`` (or ``would_cancel``: job, owner, owner_state, ended_for_s), ``kept``,
    ``cancel_failed`` and ``lookup_error``. Fails when a cancel failed or the task states
    could not be read, so the DAG's failure shows it (the jobs are left as they are).
    """

    template_fields: Sequence[str] = ("jobrelay_conn_id",)
    ui_color = "#fbeee8"

    def __init__(
        self,
        *,
        jobrelay_conn_id: str = DEFAULT_CONN_ID,
        grace_period: float = DEFAULT_GRACE_PERIOD,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jobrelay_conn_id = jobrelay_conn_id
        self.grace_period = check_grace(grace_period, field="grace_period")
        # Not ``self.dry_run``: BaseOperator has a method of that name.
        self.dry_run_only = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import Variable
        from jobrelay.integration import OwnerState, run_sync

        from airflow_jobrelay._owners import AirflowOwnerLookup, installation_id

        installation = installation_id()
        lookup = AirflowOwnerLookup(installation, context["ti"].get_task_states)
        key = memory_variable(self.jobrelay_conn_id)
        memory = stored_memory(Variable.get(key, default=None))
        hook = JobRelayHook(self.jobrelay_conn_id)
        conn = hook.get_connection(self.jobrelay_conn_id)

        async def sweep_once(client: AsyncClient) -> SweepReport:
            from jobrelay.integration import sweep

            return await sweep(
                client,
                lookup,
                grace_s=self.grace_period,
                dry_run=self.dry_run_only,
                memory=memory,
                logger=self.log,
            )

        report = run_sync(
            lambda: hook.open_client(hook.client_from_connection(conn)),
            sweep_once,
            logger=self.log,
        )
        if report.lookup_error is None and (report.memory or memory):
            Variable.set(key, json.dumps(report.memory, sort_keys=True))
        summary = report.summary()
        summary["installation"] = installation
        summary["lookup_calls"] = lookup.calls
        summary["unknown_owners"] = sum(
            d.report.state is OwnerState.UNKNOWN for d in report.decisions
        )
        self.log.info(
            "Swept %d active jobs of installation %s: %s %d, kept %d",
            summary["active_jobs_of_installation"],
            installation,
            "would cancel" if self.dry_run_only else "cancelled",
            len(report.cancelled),
            summary["kept"],
        )
        if report.failed or report.lookup_error:
            context["ti"].xcom_push(key="summary", value=summary)
            raise AirflowException(
                f"sweep incomplete: {len(report.failed)} cancels failed, "
                f"lookup error: {report.lookup_error}; the next sweep tries again"
            )
        return summary


def orphan_sweep_dag(
    dag_id: str = "jobrelay_orphan_sweep",
    *,
    jobrelay_conn_id: str = DEFAULT_CONN_ID,
    schedule: timedelta | str | None = timedelta(minutes=1),
    grace_period: float = DEFAULT_GRACE_PERIOD,
    dry_run: bool = False,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG with one ``CancelOrphanedJobsOperator`` task (``sweep``), one run at a time.

    Put ``dag = orphan_sweep_dag()`` in a file of your DAG folder; one such DAG per
    platform connection.
    """
    from airflow.sdk import DAG

    dag_kwargs.setdefault("start_date", datetime(2026, 1, 1))
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("tags", ["jobrelay"])
    dag_kwargs.setdefault("doc_md", "Cancels jobrelay jobs whose Airflow task has ended.")
    with DAG(dag_id, schedule=schedule, **dag_kwargs) as dag:
        CancelOrphanedJobsOperator(
            task_id="sweep",
            jobrelay_conn_id=jobrelay_conn_id,
            grace_period=grace_period,
            dry_run=dry_run,
            retries=0,
        )
    return dag
