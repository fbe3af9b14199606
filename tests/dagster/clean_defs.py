"""A code location whose asset runs one short job and succeeds (the clean-logs test):
``dagster job execute -f tests/dagster/clean_defs.py -j clean`` runs it in a process of
its own, the step in another (Dagster's multiprocess executor)."""

import sys

import dagster as dg
from dagster_jobrelay import JobRelayResource

HELLO = [sys.executable, "-c", "print('clean-line-1'); print('clean-line-2')"]


@dg.asset
def clean_job(
    context: dg.AssetExecutionContext, jobrelay: JobRelayResource
) -> dg.MaterializeResult:
    return jobrelay.run(context, {"entrypoint": HELLO, "name": "clean"})


defs = dg.Definitions(
    assets=[clean_job],
    jobs=[dg.define_asset_job("clean", selection=[clean_job])],
    resources={"jobrelay": JobRelayResource(platform=dg.EnvVar("JR_DAGSTER_PLATFORM"))},
)
