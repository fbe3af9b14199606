"""Test DAG for the provider's tests: one job that prints known lines (airflow DAG file)."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_jobrelay.operators import SubmitJobOperator

LINES = 5

with DAG(
    dag_id="jobrelay_hello",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
) as dag:
    SubmitJobOperator(
        task_id="hello",
        jobrelay_conn_id=os.environ.get("JOBRELAY_TEST_CONN", "jobrelay_default"),
        entrypoint=(
            f"for i in $(seq 1 {LINES}); do echo \"hello-line-$i of {{{{ run_id }}}}\"; "
            "sleep 0.05; done"
        ),
        job_name="hello",
        env={"GREETING": "{{ dag.dag_id }}"},
        deferrable=os.environ.get("JOBRELAY_TEST_DEFERRABLE", "") == "1",
    )
