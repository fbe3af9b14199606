"""The DAG the real-deployment tests drive: one deferred job that prints numbered lines.

``dag_run.conf``: ``lines`` (how many), ``every`` (seconds between two lines), ``gate``
(a file the job waits for after its lines before it ends; default none). A gate lets a
test act on the task while the job surely still runs, however late a busy triggerer starts
following it.
"""

from __future__ import annotations

import sys
from datetime import datetime

from airflow.sdk import DAG
from airflow_jobrelay.operators import SubmitJobOperator

PRINT_LINES = (
    "import os, sys, time\n"
    "for i in range(int(sys.argv[1])):\n"
    "    print(f'line {i:05d}', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
    "gate, deadline = sys.argv[3], time.monotonic() + 600\n"
    "while gate != '-' and not os.path.exists(gate) and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
)

with DAG("jobrelay_deployment", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    SubmitJobOperator(
        task_id="deferred_job",
        entrypoint=[
            sys.executable,
            "-c",
            PRINT_LINES,
            "{{ dag_run.conf.get('lines', 20) }}",
            "{{ dag_run.conf.get('every', 0.5) }}",
            "{{ dag_run.conf.get('gate', '-') }}",
        ],
        deferrable=True,
        poll_interval=0.5,
        max_poll_interval=1.0,
    )
