"""A successful run's logs hold no ERROR line, in a real deployment (api-server, scheduler,
dag-processor, triggerer as separate processes): a task whose job runs in the worker and a
deferred one on local, and a deferred Fused job whose connection is an ``AIRFLOW_CONN_*``
URI with the server's URL in its Address. The Fused task also gets its job's page as the
extra link.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.models.connection import Connection
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

from .airflow_deployment import AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "jobrelay_clean_logs"
TASKS = ("local_worker", "local_deferred", "fused_deferred")
# structlog's console form ("[error    ]") and the JSON form of the api-server's log.
ERROR_LINE = re.compile(r"\[(error|critical)\s*\]|\"level\": ?\"(error|critical)\"", re.I)


@pytest.fixture(scope="module")
def fused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FusedEmulator]:
    emulator = FusedEmulator(workdir=tmp_path_factory.mktemp("fused-jobs")).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def airflow(platform_home: Path, fused: FusedEmulator) -> Iterator[AirflowDeployment]:
    home = Path(tempfile.mkdtemp(prefix="jr-deploy-clean-"))
    local = {"conn_type": "jobrelay", "host": f"local://{platform_home}"}
    deployment = AirflowDeployment(home, connections={"jobrelay_default": local})
    # The URI a user gets from `airflow connections get -o uri` for the form's fields.
    uri = Connection(
        conn_id="jobrelay_fused_uri",
        conn_type="jobrelay",
        schema="fused",
        host=f"?base_url={fused.base_url}",
        password=fused.token,
        extra=f'{{"token_type": "{TOKEN_TYPE}"}}',
    ).get_uri()
    deployment.env["AIRFLOW_CONN_JOBRELAY_FUSED_URI"] = uri
    try:
        deployment.start()
        deployment.wait_dag(DAG_ID)
        yield deployment
    finally:
        deployment.stop()
        shutil.rmtree(home, ignore_errors=True)


def _log_entries(airflow: AirflowDeployment, run_id: str, task_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1"
    response = airflow.http.get(
        path, params={"full_content": "true"}, headers={"Accept": "application/json"}
    )
    response.raise_for_status()
    content = response.json().get("content", [])
    return [e if isinstance(e, dict) else {"event": str(e)} for e in content]


def _errors(entries: list[dict[str, Any]]) -> list[str]:
    return [
        str(e)
        for e in entries
        if str(e.get("level", "")).lower() in {"error", "critical"}
        or ERROR_LINE.search(str(e.get("event", "")))
    ]


def test_successful_tasks_and_triggers_log_no_error(
    airflow: AirflowDeployment, fused: FusedEmulator
) -> None:
    run_id = "clean-1"
    airflow.trigger(DAG_ID, run_id, {})
    for task_id in TASKS:
        ti = airflow.wait_task(DAG_ID, run_id, task_id, {"success", "failed"}, timeout=300)
        assert ti["state"] == "success", airflow.diagnostics()

    for task_id in TASKS:
        entries = _log_entries(airflow, run_id, task_id)
        text = "\n".join(str(e.get("event", "")) for e in entries)
        assert "clean-" in text, text[-3000:]  # the job's lines reached the task log
        assert _errors(entries) == [], task_id
    assert fused.token not in str(_log_entries(airflow, run_id, "fused_deferred"))
    triggerer = airflow.component_log("triggerer")
    assert "XCom not found" not in triggerer
    errors = [line for line in triggerer.splitlines() if ERROR_LINE.search(line)]
    # Airflow's own health check, not a run's error: a CI host at load 50 starves the
    # trigger runner's process for half a minute now and then.
    assert [line for line in errors if "event loop appears deadlocked" not in line] == []


def test_a_fused_task_links_to_its_job_page(airflow: AirflowDeployment) -> None:
    run_id = "clean-link"
    airflow.trigger(DAG_ID, run_id, {})
    for task_id in ("fused_deferred", "local_worker"):
        ti = airflow.wait_task(DAG_ID, run_id, task_id, {"success", "failed"}, timeout=300)
        assert ti["state"] == "success", airflow.diagnostics()
    result = airflow.xcom(DAG_ID, run_id, "fused_deferred")

    links = airflow.get(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/fused_deferred/links"
    )

    assert result["url"].endswith(f"/workbench/jobs/{result['job_id']}")
    assert links["extra_links"] == {"Job on platform": result["url"]}
