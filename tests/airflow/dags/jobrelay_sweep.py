"""Test DAGs for the reaper (an airflow DAG folder): tests build them with other settings
through the factories; the module-level DAGs are what the DAG processor finds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task
from airflow_jobrelay._owners import installation_id
from airflow_jobrelay.hooks import JobRelayHook
from airflow_jobrelay.reaper import CancelOrphanedJobsOperator, orphan_sweep_dag
from jobrelay import JobSpec
from jobrelay.integration import Owner

OTHER_INSTALLATION = "other-airflow"


def sweep_test_dag(*, grace_period: float, dry_run: bool = False) -> DAG:
    """``plant`` submits sleeping jobs owned by tasks of this very run (and others); then
    ``sweep`` runs the reaper; ``later`` has not run yet while it sweeps (state None)."""
    with DAG(
        dag_id="jobrelay_sweep_test",
        start_date=datetime(2026, 1, 1),
        schedule=None,
        catchup=False,
    ) as dag:

        @task
        def plant(**context: Any) -> dict[str, str]:
            ti = context["ti"]
            here = installation_id()
            mine = (ti.dag_id, ti.run_id)
            owners: dict[str, Owner | None] = {
                "own_task_ended": Owner("airflow", here, (*mine, "plant", "-1", "1")),
                "later_task_not_run_yet": Owner("airflow", here, (*mine, "later", "-1", "1")),
                "run_scoped_in_this_run": Owner(
                    "airflow", here, (*mine, "plant", "-1", "1", "run")
                ),
                "run_gone": Owner("airflow", here, (ti.dag_id, "no_such_run", "plant", "-1", "1")),
                "other_installation": Owner(
                    "airflow", OTHER_INSTALLATION, (*mine, "plant", "-1", "1")
                ),
                "no_owner": None,
            }
            ids: dict[str, str] = {}
            with JobRelayHook().get_client() as client:
                for role, owner in owners.items():
                    spec = JobSpec(
                        entrypoint="sleep 300",
                        name=role,
                        owner=None if owner is None else str(owner),
                    )
                    ids[role] = client.submit(spec).id
            return ids

        sweep = CancelOrphanedJobsOperator(
            task_id="sweep", grace_period=grace_period, dry_run=dry_run, retries=0
        )

        @task
        def later() -> None:
            """Runs after the sweep: while it sweeps, this task's state is None."""

        plant() >> sweep >> later()
    return dag


def sweep_only_dag(*, grace_period: float = 0) -> DAG:
    return orphan_sweep_dag("jobrelay_sweep_only", schedule=None, grace_period=grace_period)


sweep_test_dag(grace_period=0)
sweep_only_dag()
