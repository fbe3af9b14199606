"""Successful tasks whose logs must hold no ERROR line: a job in the worker and a deferred
one on local (the default connection), and a deferred Fused UDF through a connection
given as an ``AIRFLOW_CONN_JOBRELAY_FUSED_URI`` URI (its Address holds the server's URL).
"""

from __future__ import annotations

import sys
from datetime import datetime

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

HELLO = [sys.executable, "-c", "print('clean-line-1'); print('clean-line-2')"]
UDF = """
@fused.udf
def udf(lines: int = 2):
    for i in range(1, lines + 1):
        print(f"clean-udf-line-{i}")
"""

with DAG("jobrelay_clean_logs", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    SubmitJobOperator(task_id="local_worker", entrypoint=HELLO, deferrable=False)
    SubmitJobOperator(
        task_id="local_deferred",
        entrypoint=HELLO,
        deferrable=True,
        poll_interval=0.5,
        max_poll_interval=1.0,
    )
    SubmitJobOperator(
        task_id="fused_deferred",
        jobrelay_conn_id="jobrelay_fused_uri",
        entrypoint="udf",
        config={"code": UDF, "parameters": {"lines": 2}, "instance_type": "small"},
        deferrable=True,
        poll_interval=0.5,
        max_poll_interval=1.0,
    )
