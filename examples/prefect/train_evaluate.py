"""Train, then evaluate the model that training produced, from a Prefect flow.

``train`` writes its model through ``jobrelay.runtime.log_output("model", ...)``; its run
record's ``outputs`` hold it as an ``ArtifactRef``; ``evaluate`` takes them as its
``inputs`` and reads the model with ``runtime.input_path("model")``. The job scripts are
the Airflow example's (``examples/airflow/jobs``): jobs do not depend on the orchestrator.

``credentials`` is a platform URL (``local://``: the local platform in the default home)
or the name of a saved ``JobRelayCredentials`` block. Cancelling the flow run (UI, API or
``prefect flow-run cancel``) cancels the running job, also from ``.submit()``ed tasks:
the hooks find the flow run's jobs by their keys.

    python examples/prefect/train_evaluate.py            # runs once, in this process
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow
from prefect_jobrelay import arun_job, cancel_flow_run_jobs

JOBS = Path(__file__).resolve().parent.parent / "airflow" / "jobs"


@flow(
    name="jobrelay-train-evaluate",
    on_cancellation=[cancel_flow_run_jobs()],  # reads the ``credentials`` parameter
    on_crashed=[cancel_flow_run_jobs()],
)
async def train_evaluate(credentials: str = "local://", epochs: int = 3) -> dict[str, Any]:
    trained = await arun_job(
        credentials,
        {
            "entrypoint": [sys.executable, "train.py", str(epochs)],
            "working_dir": str(JOBS),
            "name": "train",
        },
        run_timeout=600,
        artifact_key="train-run-record",
    )
    evaluated = await arun_job(
        credentials,
        {
            "entrypoint": [sys.executable, "evaluate.py"],
            "working_dir": str(JOBS),
            "name": "evaluate",
        },
        inputs=trained["outputs"],  # {"model": <ArtifactRef dict>}, unchanged
        run_timeout=600,
        artifact_key="evaluate-run-record",
    )
    return {"train": trained, "evaluate": evaluated}


if __name__ == "__main__":
    import asyncio

    print(asyncio.run(train_evaluate())["evaluate"]["state"])
