"""Pipes through a jobrelay job on a real Dagster instance: the job reports a
materialization with metadata and an asset check with ``dagster-pipes``, its messages
come back through the job's log, and Dagster records them; on local, Ray, and the Anyscale and
Fused emulators (their jobs run as local processes with the job's environment; on Fused the
job is a UDF that opens Pipes). W&B is not here: a launch spec carries no environment, so
Pipes' context cannot reach the job that way (the client says so, naming ``env``)."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_jobrelay import JobRelayPipesClient, JobRelayResource

from tests.dagster.conftest import materialization_metadata, user_messages

# Dagster 1.13's own code for nested resources (a Pipes client holding the jobrelay
# resource) calls its deprecated InitResourceContext.dagster_run; nothing of ours does.
pytestmark = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)

PIPES_JOB = """
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info("counting rows")
    print("a plain line", flush=True)
    pipes.report_asset_materialization(
        metadata={
            "rows": {"raw_value": 3, "type": "int"},
            "dashboard": {"raw_value": "http://127.0.0.1:9/table", "type": "url"},
            "schema": {"raw_value": {"id": "int"}, "type": "json"},
        },
        data_version="rows-3",
    )
    pipes.report_asset_check(check_name="rows_positive", passed=True, metadata={"rows": 3})
"""


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_positive", asset="table")])
def table(context: dg.AssetExecutionContext, pipes: JobRelayPipesClient) -> dg.MaterializeResult:
    spec: dict[str, Any] = {"entrypoint": [sys.executable, "-c", PIPES_JOB], "name": "pipes-table"}
    if str(pipes.jobrelay.platform).startswith("fused://"):  # a UDF, not a command
        udf = f"def udf():\n    exec({PIPES_JOB!r}, {{}})\n"
        spec = {"entrypoint": "udf", "config": {"code": udf}, "name": "pipes-table"}
    return pipes.run(context=context, spec=spec).get_materialize_result()


@pytest.fixture(params=["local", "ray", "anyscale", "fused"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobRelayResource]:
    if request.param == "ray":
        from tests.platforms.ray_cluster import shared_head

        yield JobRelayResource(platform=shared_head().platform_url)
        return
    from jobrelay_emulators.local_home import stop_local_home

    if request.param == "fused":
        from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

        fused = FusedEmulator(workdir=tmp_path / "jobs").start()
        try:
            yield JobRelayResource(
                platform=f"fused://?base_url={fused.base_url}",
                credential=fused.token,
                options={"token_type": TOKEN_TYPE, "artifacts": str(tmp_path / "store")},
            )
        finally:
            fused.stop()
        return
    if request.param == "anyscale":
        from jobrelay_emulators.anyscale import AnyscaleEmulator

        anyscale = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
        try:
            yield JobRelayResource(
                platform=f"anyscale://?host={anyscale.url}", credential=anyscale.token
            )
        finally:
            anyscale.stop()
        return
    yield JobRelayResource(platform=f"local://{tmp_path / 'home'}")
    stop_local_home(tmp_path / "home")


def test_a_pipes_job_reports_a_materialization_and_a_check(
    instance: Any, platform: JobRelayResource
) -> None:
    client = JobRelayPipesClient(jobrelay=platform)
    result = dg.materialize([table], instance=instance, resources={"pipes": client})
    assert result.success
    metadata = materialization_metadata(instance, result.run_id, "table")
    assert metadata["rows"] == 3
    assert metadata["dashboard"] == "http://127.0.0.1:9/table"
    assert metadata["schema"] == {"id": "int"}
    assert metadata["state"] == "SUCCEEDED"  # the run record, next to what the job reported
    assert str(metadata["platform"]).split("://")[0] == str(platform.platform).split("://")[0]
    materialization = result.asset_materializations_for_node("table")[0]
    assert materialization.tags is not None
    assert materialization.tags["dagster/data_version"] == "rows-3"

    checks = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    assert len(checks) == 1
    evaluation = checks[0].dagster_event.event_specific_data
    assert evaluation.check_name == "rows_positive"
    assert evaluation.passed is True
    assert evaluation.metadata["rows"].value == 3

    messages = user_messages(instance, result.run_id)
    assert "counting rows" in messages
    assert "a plain line" in messages
    assert not [m for m in messages if "__dagster_pipes_version" in m]  # no raw message lines
