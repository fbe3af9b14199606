"""The same real Airflow runs against the session's real Ray head (loopback)."""

from __future__ import annotations

import json

import pytest
from jobrelay import Client, JobRef, JobState

from tests.platforms.ray_cluster import shared_head

from .dags.jobrelay_hello import LINES, hello_dag
from .support import xcoms

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_job_runs_on_ray_and_its_log_reaches_the_task_log(
    deferrable: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    head = shared_head()
    # Schema + host + port, as a user fills in the connection form.
    host, port = head.platform_url.removeprefix("ray://").split(":")
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOBRELAY_RAY",
        json.dumps({"conn_type": "jobrelay", "schema": "ray", "host": host, "port": int(port)}),
    )
    dag = hello_dag(deferrable=deferrable, conn_id="jobrelay_ray")

    run = dag.test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    result = xcoms("jobrelay_hello", run.run_id, "hello")["return_value"]
    assert result["state"] == "SUCCEEDED"
    assert result["platform"].startswith("ray://")
    expected = [f"hello-line-{i} of {run.run_id}" for i in range(1, LINES + 1)]
    assert [log.count(line) for line in expected] == [1] * LINES
    with Client(head.platform_url) as client:
        status = client.status(JobRef.model_validate(result["ref"]))
    assert status.state is JobState.SUCCEEDED
