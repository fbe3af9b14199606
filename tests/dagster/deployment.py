"""The code location of the termination tests: one asset whose job runs until stopped.

Loaded by a real code server (``dagster code-server start -f``) and by
``dagster asset materialize -f``. The job writes its process group id to
``$JR_DAGSTER_MARKERS/<run id>`` once it runs, so a test knows when to terminate and what
must be gone afterwards.
"""

import os
import sys
from pathlib import Path

import dagster as dg
from dagster_jobrelay import JobRelayResource

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
    return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", LONG_JOB, str(marker)]})


defs = dg.Definitions(
    assets=[long_job],
    jobs=[dg.define_asset_job("long", selection=[long_job])],
    resources={"jobrelay": JobRelayResource(platform=dg.EnvVar("JR_DAGSTER_PLATFORM"))},
)
