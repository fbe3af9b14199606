"""Real Airflow runs (``dag.test()``, triggers inline) against the local platform."""

from __future__ import annotations

import json
import os

import pytest
from airflow_jobrelay._spec import idempotency_key
from jobrelay import Client

from .conftest import PASSWORD, PLATFORM_HOME
from .dags.jobrelay_hello import LINES, hello_dag, sensor_dag
from .support import jobs_for, task_states, trigger_kwargs_rows, xcoms

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_job_runs_and_its_result_and_log_reach_airflow(
    deferrable: bool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    dag = hello_dag(deferrable=deferrable, conn_id="jobrelay_auth")

    run = dag.test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    pushed = xcoms("jobrelay_hello", run.run_id, "hello")
    result = pushed["return_value"]
    assert result["state"] == "SUCCEEDED"
    assert result["reattached"] is False
    assert result["outputs"] == {} == pushed["outputs"]
    assert pushed["jobrelay_job"] == result["ref"]
    # The link is the job's URL: a local job's is its log file (fcf1394); a job without
    # one gives "" (Airflow's extraLinks API answers null for it).
    assert result["url"].startswith("file://")
    assert pushed["jobrelay_url"] == result["url"]
    assert result["ref"]["idempotency_key"] == idempotency_key(
        "jobrelay_hello", "hello", run.run_id, -1
    )
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    assert job.ref.id == result["job_id"]
    # Every line of the job is in the task log exactly once, in order.
    expected = [f"hello-line-{i} of {run.run_id}" for i in range(1, LINES + 1)]
    assert [log.count(line) for line in expected] == [1] * LINES
    assert [log.index(line) for line in expected] == sorted(log.index(line) for line in expected)
    # The connection's token never leaves it: not in XCom, the log or stored trigger kwargs.
    assert PASSWORD not in json.dumps(pushed)
    assert PASSWORD not in log
    assert all(PASSWORD not in kwargs for kwargs in trigger_kwargs_rows())
    assert ("running trigger in line" in caplog.text + log) is deferrable


@pytest.mark.parametrize(
    ("wait_for", "deferrable", "states"),
    [("running", True, {"RUNNING"}), ("none", False, {"QUEUED", "STARTING", "RUNNING"})],
)
def test_wait_for_running_or_none_returns_before_the_job_ends(
    wait_for: str, deferrable: bool, states: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    dag = hello_dag(deferrable=deferrable, wait_for=wait_for)
    dag.task_dict["hello"].entrypoint = "echo started; sleep 30"  # type: ignore[attr-defined]

    run = dag.test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    result = xcoms("jobrelay_hello", run.run_id, "hello")["return_value"]
    assert result["state"] in states
    (job,) = jobs_for("jobrelay_hello", "hello", run.run_id)
    assert job.state.is_active  # still running after the task finished
    with Client(f"local://{PLATFORM_HOME}") as client:
        client.cancel(job.ref)


def test_sensors_wait_for_a_job_submitted_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    run = sensor_dag().test()
    log = capsys.readouterr().out

    assert task_states("jobrelay_sensor", run.run_id) == {
        "submit": "success",
        "watch_deferred": "success",
        "watch_poke": "success",
    }, log[-3000:]
    submitted = xcoms("jobrelay_sensor", run.run_id, "submit")["return_value"]
    assert submitted["state"] in ("QUEUED", "STARTING", "RUNNING")
    for task in ("watch_deferred", "watch_poke"):
        seen = xcoms("jobrelay_sensor", run.run_id, task)["return_value"]
        assert (seen["job_id"], seen["state"]) == (submitted["job_id"], "SUCCEEDED")


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        ({"conn_type": "jobrelay", "schema": "nosuch", "host": "somewhere"}, "schema"),
        ({"conn_type": "jobrelay", "schema": "authlocal", "host": "/tmp/x"}, "password"),
    ],
    ids=["unknown-scheme", "missing-token"],
)
def test_a_broken_connection_fails_the_task_naming_connection_and_field(
    conn: dict[str, str],
    field: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_JOBRELAY_BROKEN", json.dumps(conn))
    run = hello_dag(conn_id="jobrelay_broken", retries=0).test()
    log = capsys.readouterr().out

    assert run.state == "failed"
    assert "JobRelayConnectionError" in log
    assert f"connection 'jobrelay_broken' (type jobrelay): field '{field}'" in log
    assert jobs_for("jobrelay_hello", "hello", run.run_id) == []
    assert os.environ.get("WANDB_API_KEY") is None


def test_a_job_without_working_dir_says_where_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    dag = hello_dag()
    dag.task_dict["hello"].entrypoint = "pwd"  # type: ignore[attr-defined]

    run = dag.test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    where = os.getcwd()
    assert f"No working_dir is set: the job runs in this worker's current directory, {where}" in log
    printed = [line for line in log.splitlines() if f" {where} " in line]
    assert any("working_dir" not in line for line in printed), log[-3000:]  # the job's pwd
