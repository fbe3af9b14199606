"""Dagster jobs the tests run through ``execute_job`` (which needs them importable, to
re-execute a run or retry a step the way a deployment does)."""

import sys
from pathlib import Path

import dagster as dg
from dagster_jobrelay import JobRelayResource
from jobrelay import WaitLimits


class Marker(dg.Config):
    path: str


@dg.asset
def prepare(
    context: dg.AssetExecutionContext, jobrelay: JobRelayResource, config: Marker
) -> dg.MaterializeResult:
    """Its job succeeds; the step itself fails afterwards the first time (a later check)."""
    result = jobrelay.run(context, {"entrypoint": [sys.executable, "-c", "print('prepared')"]})
    marker = Path(config.path)
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("the check after the job failed")
    return result


@dg.asset(deps=[prepare])
def report(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> dg.MaterializeResult:
    return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", "print('reported')"]})


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
def slow(context: dg.AssetExecutionContext, jobrelay: JobRelayResource) -> dg.MaterializeResult:
    """The first attempt fails while waiting (a 1 s limit that leaves the job running)."""
    first = context.retry_number == 0
    wait = WaitLimits(timeout=1.0, cancel_on_timeout=False) if first else WaitLimits()
    code = "import time; print('slow started', flush=True); time.sleep(3); print('slow done')"
    return jobrelay.run(context, {"entrypoint": [sys.executable, "-c", code]}, wait=wait)


def rerun_job() -> dg.JobDefinition:
    return _job("rerun", [prepare, report])


def retry_job() -> dg.JobDefinition:
    return _job("retry", [slow])


def _job(name: str, assets: list[dg.AssetsDefinition]) -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job(name, executor_def=dg.in_process_executor)],
        resources={"jobrelay": JobRelayResource()},
    )
    return defs.resolve_job_def(name)
