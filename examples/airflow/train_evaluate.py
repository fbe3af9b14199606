"""Train, then evaluate the model that training produced, on the ``local`` platform.

``train`` writes its model through ``jobrelay.runtime.log_output("model", ...)``; the
operator returns it in ``outputs``; ``evaluate`` names it as its ``model`` input and reads
it with ``runtime.input_path("model")``. The connection ``jobrelay_default`` names the
platform; without one, set ``AIRFLOW_CONN_JOBRELAY_DEFAULT='{"conn_type": "jobrelay"}'``
(the local platform in the default home).

Set ``JOBRELAY_EXAMPLE_DEFERRABLE=1`` to wait on the triggerer instead of a worker.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

JOBS = Path(__file__).parent / "jobs"
DEFERRABLE = os.environ.get("JOBRELAY_EXAMPLE_DEFERRABLE", "") == "1"

with DAG(
    dag_id="jobrelay_train_evaluate",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    params={"epochs": 3},
    tags=["jobrelay", "example"],
) as dag:
    train = SubmitJobOperator(
        task_id="train",
        entrypoint=[sys.executable, "train.py", "{{ params.epochs }}"],
        working_dir=str(JOBS),
        job_name="train",
        run_timeout=600,
        deferrable=DEFERRABLE,
    )
    evaluate = SubmitJobOperator(
        task_id="evaluate",
        entrypoint=[sys.executable, "evaluate.py"],
        working_dir=str(JOBS),
        job_name="evaluate",
        # The upstream task's ``outputs`` XCom: {"model": {<ArtifactRef>}}.
        inputs=train.output["outputs"],
        run_timeout=600,
        deferrable=DEFERRABLE,
    )
    train >> evaluate
