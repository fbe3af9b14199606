"""Cancel jobs whose Airflow task has ended: the reaper DAG, every minute.

A deferred task marked failed before the triggerer ran its trigger (or while no
triggerer runs) never runs the code that cancels its job. This DAG lists the active jobs
of this Airflow on the platform of ``jobrelay_default`` and cancels each one whose task
has been ended for longer than a minute (a Clear within that minute keeps the job).
Add one such DAG per platform connection.
"""

from __future__ import annotations

from datetime import timedelta

from airflow_jobrelay import orphan_sweep_dag

dag = orphan_sweep_dag(
    "jobrelay_orphan_sweep",
    jobrelay_conn_id="jobrelay_default",
    schedule=timedelta(minutes=1),
    grace_period=60,
)
