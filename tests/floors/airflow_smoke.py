"""One job end to end from an Airflow DAG (``airflow_dags/floor_smoke.py``:
``SubmitJobOperator`` on the local platform), run with ``dag.test()`` against a fresh SQLite
metadata DB.

Run by ``tests/test_floors.py`` in a throwaway environment at Airflow's declared floor, with
``$AIRFLOW_HOME``, the DB, the DAGs folder and ``$AIRFLOW_CONN_JOBRELAY_DEFAULT``
(``local://<home>``) set: prints the DAG run's state and the job's output.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

from jobrelay import Client

PLATFORM = f"local://{os.environ['JOBRELAY_HOME']}"


def main() -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = runpy.run_path(str(dags / "floor_smoke.py"))["dag"]
    run = dag.test()
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    with Client(PLATFORM) as client:
        (job,) = client.list_jobs()
        print(" ".join(line.text for line in client.tail_logs(job.ref)))
        print("state", job.state.value)


if __name__ == "__main__":
    main()
