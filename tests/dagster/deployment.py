"""The code location of the termination and reaper tests: one asset whose job runs until
stopped, as a job with the multiprocess executor (``long``, Dagster's default) and with the
in-process one (``long_in_process``), and the reaper sensor.

Loaded by a real code server (``dagster code-server start -f``) and by
``dagster asset materialize -f``. The job writes its process group id to
``$JR_DAGSTER_MARKERS/<run id>`` once it runs, so a test knows when to terminate and what
must be gone afterwards; the step writes its process id and its parent's to
``$JR_DAGSTER_STEPS/<run id>`` first, when that is set. The sensor runs every
``$JR_DAGSTER_SENSOR_INTERVAL`` seconds (default 30) with a grace period of
``$JR_DAGSTER_GRACE_S`` (default 0).
"""

import os
import sys
from pathlib import Path

import dagster as dg
from dagster_jobrelay import JobRelayResource, cancel_orphaned_jobs_sensor

LONG_JOB = "; ".join(
    [
        "import os, sys, time, pathlib",
        "pathlib.Path(sys.argv[1]).write_text(str(os.getpgid(0)))",
        "print('long job started', flush=True)",
        "time.sleep(300)",
    ]
)


@dg.asset
def long_job(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> dg.MaterializeResult:
    marker = Path(os.environ["JR_DAGSTER_MARKERS"]) / context.run_id
    if steps := os.environ.get("JR_DAGSTER_STEPS"):
        (Path(steps) / context.run_id).write_text(f"{os.getpid()} {os.getppid()}")
    return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", LONG_JOB, str(marker)]})


defs = dg.Definitions(
    assets=[long_job],
    jobs=[
        dg.define_asset_job("long", selection=[long_job]),
        dg.define_asset_job(
            "long_in_process", selection=[long_job], executor_def=dg.in_process_executor
        ),
    ],
    sensors=[
        cancel_orphaned_jobs_sensor(
            grace_period=float(os.environ.get("JR_DAGSTER_GRACE_S", "0")),
            minimum_interval_seconds=int(os.environ.get("JR_DAGSTER_SENSOR_INTERVAL", "30")),
        )
    ],
    resources={"jobrelay": JobRelayResource(platform=dg.EnvVar("JR_DAGSTER_PLATFORM"))},
)
