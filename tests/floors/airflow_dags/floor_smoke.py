"""The DAG ``tests/floors/airflow_smoke.py`` runs: one ``SubmitJobOperator`` task on the
platform of the ``jobrelay_default`` connection. A file in the DAGs folder because
``dag.test()`` runs the DAG as the DAG processor serialized it from its file."""

from __future__ import annotations

import sys
from datetime import datetime

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

with DAG(dag_id="floor_smoke", start_date=datetime(2026, 1, 1), schedule=None) as dag:
    SubmitJobOperator(
        task_id="floor",
        entrypoint=[sys.executable, "-c", "print('ran at the floor')"],
        deferrable=False,
    )
