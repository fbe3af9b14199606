"""Airflow's ``execution_timeout`` cancels the job on a hosted platform (issue 24): the
Anyscale emulator over HTTP, with its terminate endpoint slowed so the cancel is still in
flight when Airflow's timeout machinery moves on.

In a worker, Airflow 3's task runner wraps ``execute`` in a SIGALRM timer that raises
``AirflowTaskTimeout`` on the task's main thread, wherever it is, then calls ``on_kill``
(``_run_execute_callable``). ``dag.test()`` runs the task through that same task runner in
this process, so the worker case goes through it. While deferred, the scheduler ends the
deferral instead and the worker resumes the task with Airflow's failure marker; that
resume is called here as the task runner calls it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.bases.operator import ExecutorSafeguard
from airflow.sdk.exceptions import TaskDeferralTimeout, TaskDeferred
from airflow_jobrelay.operators import SubmitJobOperator
from jobrelay import Client, JobRef, JobState
from jobrelay_emulators.anyscale import AnyscaleEmulator

from .dags.jobrelay_hello import hello_dag
from .operator_worker import TASK_ID, WorkerTI

pytestmark = pytest.mark.slow

CONN_ID = "jobrelay_hosted"
JOB = "echo started; sleep 60"
TERMINATE_DELAY_S = 0.5


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnyscaleEmulator]:
    """The Anyscale emulator behind the connection a user fills in; terminate answers slowly."""
    monkeypatch.delenv("ANYSCALE_CLI_TOKEN", raising=False)
    anyscale = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
    connection = {
        "conn_type": "jobrelay",
        "schema": "anyscale",
        "host": f"?host={anyscale.url}",
        "password": anyscale.token,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    anyscale.add_fault("terminate", "slow", delay_s=TERMINATE_DELAY_S, times=None)
    try:
        yield anyscale
    finally:
        anyscale.stop()


def _only_job(emulator: AnyscaleEmulator) -> str:
    with emulator.lock:
        (job_id,) = emulator.world.jobs
    return job_id


def _until_running(emulator: AnyscaleEmulator, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with emulator.lock:
            running = [j.id for j in emulator.world.jobs.values() if j.state == "RUNNING"]
        if running:
            return running[0]
        time.sleep(0.05)
    raise AssertionError(f"no job ran within {timeout}s")


def _assert_cancelled_on_the_platform(emulator: AnyscaleEmulator, job_id: str) -> None:
    """The platform answered a terminate for ``job_id`` before the task ended (checked at
    once: a worker process exits then, and a request still in flight would be lost), and
    the job ends CANCELLED as a user reading it sees."""
    terminates = emulator.calls("terminate")
    assert terminates, "no terminate request reached the platform"
    assert all(job_id in call.path for call in terminates), [c.path for c in terminates]
    with emulator.lock:
        assert emulator.world.jobs[job_id].terminate_asked, "the terminate was not answered"
    ref = JobRef(platform=f"anyscale://?host={emulator.url}", id=job_id)
    deadline = time.monotonic() + 30
    with Client(ref.platform, credential=emulator.token) as client:
        while (state := client.status(ref).state) is not JobState.CANCELLED:
            assert time.monotonic() < deadline, f"job {job_id} is {state}, not CANCELLED"
            time.sleep(0.1)


def test_execution_timeout_in_the_worker_cancels_the_hosted_job(
    emulator: AnyscaleEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dag = hello_dag(
        conn_id=CONN_ID,
        entrypoint=JOB,
        execution_timeout=timedelta(seconds=4),
        poll_interval=0.2,
    )

    run = dag.test()
    log = capsys.readouterr().out

    assert run.state == "failed", log[-3000:]
    assert "AirflowTaskTimeout" in log, log[-3000:]
    _assert_cancelled_on_the_platform(emulator, _only_job(emulator))
    assert emulator.token not in log


def _deferrable() -> SubmitJobOperator:
    return SubmitJobOperator(
        task_id=TASK_ID,
        jobrelay_conn_id=CONN_ID,
        entrypoint=JOB,
        deferrable=True,
        execution_timeout=timedelta(seconds=30),
        poll_interval=0.2,
    )


def test_execution_timeout_while_deferred_cancels_the_hosted_job(
    emulator: AnyscaleEmulator,
) -> None:
    ExecutorSafeguard.test_mode = True  # execute() is called directly, as the runner does
    ti = WorkerTI(run_id=f"manual__{uuid.uuid4().hex[:12]}")
    context: Any = {"ti": ti}
    with pytest.raises(TaskDeferred) as deferred:
        _deferrable().execute(context)
    assert deferred.value.timeout == timedelta(seconds=30)  # the scheduler enforces it
    job_id = _until_running(emulator)
    assert emulator.calls("terminate") == []

    # The scheduler's trigger-timeout check fired: a fresh worker resumes the task.
    with pytest.raises(TaskDeferralTimeout):
        _deferrable().resume_execution("__fail__", {"error": "Trigger timeout"}, context)

    _assert_cancelled_on_the_platform(emulator, job_id)
