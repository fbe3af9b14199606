"""Real Airflow runs (``dag.test()``, the trigger inline) of a deferred task on the hosted
platforms, here their emulators on loopback, with the connection a user fills in.

Anyscale runs the same shell DAG as local and Ray; Fused runs a UDF, given as a Fused
user writes it (``entrypoint`` names the function, ``config`` holds its source and
arguments, templated like any other field).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from airflow.sdk import DAG
from jobrelay import Client, JobRef, JobState
from jobrelay_emulators.anyscale import AnyscaleEmulator
from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

from .dags.jobrelay_hello import LINES, hello_dag
from .support import xcoms

pytestmark = pytest.mark.slow

HELLO_UDF = """
@fused.udf
def udf(run_id: str, lines: int = 1):
    import time

    for i in range(1, lines + 1):
        print(f"hello-line-{i} of {run_id}")
        time.sleep(0.05)
"""


def fused_dag(conn_id: str) -> DAG:
    config = {
        "code": HELLO_UDF,
        "parameters": {"run_id": "{{ run_id }}", "lines": LINES},
        "instance_type": "small",
    }
    return hello_dag(
        deferrable=True, conn_id=conn_id, entrypoint="udf", config=config, poll_interval=0.2
    )


@dataclass
class Hosted:
    """A hosted platform's emulator, the Airflow connection to it and the DAG to run."""

    connection: dict[str, object]
    secret: str
    url: str
    dag: Callable[[str], DAG]


@pytest.fixture(params=["anyscale", "fused"])
def hosted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hosted]:
    if request.param == "anyscale":
        anyscale = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
        url = f"anyscale://?host={anyscale.url}"
        try:
            yield Hosted(
                {"schema": "anyscale", "host": f"?host={anyscale.url}", "password": anyscale.token},
                anyscale.token,
                url,
                lambda conn_id: hello_dag(deferrable=True, conn_id=conn_id, poll_interval=0.2),
            )
        finally:
            anyscale.stop()
        return
    fused = FusedEmulator(workdir=tmp_path / "jobs").start()
    extra = {"base_url": fused.base_url, "token_type": TOKEN_TYPE}
    try:
        yield Hosted(
            {"schema": "fused", "password": fused.token, "extra": json.dumps(extra)},
            fused.token,
            f"fused://?base_url={fused.base_url}",
            fused_dag,
        )
    finally:
        fused.stop()


def test_a_deferred_task_runs_its_job_and_logs_each_line_once(
    hosted: Hosted,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ANYSCALE_CLI_TOKEN", "FUSED_AUTH_TOKEN", "FUSED_AUTH_TOKEN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOBRELAY_HOSTED", json.dumps({"conn_type": "jobrelay", **hosted.connection})
    )

    run = hosted.dag("jobrelay_hosted").test()
    log = capsys.readouterr().out

    assert run.state == "success", log[-3000:]
    assert "running trigger in line" in caplog.text  # it deferred
    pushed = xcoms("jobrelay_hello", run.run_id, "hello")
    result = pushed["return_value"]
    assert result["state"] == "SUCCEEDED"
    assert result["platform"] == hosted.url
    expected = [f"hello-line-{i} of {run.run_id}" for i in range(1, LINES + 1)]
    assert [log.count(line) for line in expected] == [1] * LINES
    assert hosted.secret not in log + caplog.text
    assert hosted.secret not in json.dumps(pushed)
    token = {"token_type": TOKEN_TYPE} if hosted.url.startswith("fused") else {}
    with Client(hosted.url, credential=hosted.secret, **token) as client:
        status = client.status(JobRef.model_validate(result["ref"]))
    assert status.state is JobState.SUCCEEDED
