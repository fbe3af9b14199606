"""The provider in a real Airflow deployment: api-server, scheduler, dag-processor and
triggerer as separate processes, driven through the REST API as a user drives them.

Semantics these tests hold the provider to (README, "Clear, mark failed, restarts"):
- clearing a running deferred task gives it a new try that continues the same job (one
  job for the task instance, never cancelled); the task ends success;
- marking it failed cancels the job;
- a triggerer restart leaves the job alone; the task finishes on the new triggerer;
- the job's lines appear in the task's log while it is deferred, and each once, in order.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from airflow_jobrelay._spec import idempotency_key
from jobrelay import Client, JobState, JobStatus

from .airflow_deployment import AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

T = TypeVar("T")
DAG_ID = "jobrelay_deployment"
TASK_ID = "deferred_job"


def _jobs(home: Path, run_id: str) -> list[JobStatus]:
    """Every job on the platform for the task instance (the key and its resubmissions)."""
    key = idempotency_key(DAG_ID, TASK_ID, run_id, -1)
    with Client(f"local://{home}?autostart=0") as client:
        return [
            s
            for s in client.list_jobs(limit=1000)
            if (s.ref.idempotency_key or "").split("#")[0] == key
        ]


def _until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout}s for {what}")


def _start(
    airflow: AirflowDeployment, home: Path, lines: int, every: float, gate: Path | None = None
) -> str:
    """Trigger a run; return its id once its task is deferred, its job runs and the
    triggerer runs its trigger (the job's first line is in the task's log).

    Airflow runs a trigger only while its task is deferred: a task marked failed before
    the triggerer picked its trigger up (about a second after the deferral, more on a
    busy machine) never runs it, so nothing can cancel the job (README, Airflow).
    With ``gate``, the job ends only once that file exists: a fresh triggerer on a busy
    machine has been seen to start its first trigger 18 s after the deferral, after a
    15 s job had ended."""
    run_id = f"manual__{uuid.uuid4().hex[:10]}"
    conf: dict[str, object] = {"lines": lines, "every": every}
    if gate is not None:
        conf["gate"] = str(gate)
    airflow.trigger(DAG_ID, run_id, conf)
    airflow.wait_task(DAG_ID, run_id, TASK_ID, {"deferred"})
    _until(
        lambda: [j for j in _jobs(home, run_id) if j.state is JobState.RUNNING],
        60,
        "the job to run",
    )
    _until(
        lambda: _job_lines(airflow.task_log(DAG_ID, run_id, TASK_ID, 1)),
        60,
        "the trigger to follow the job (its lines in the task log)",
    )
    return run_id


def _job_lines(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("line ")]


def test_clear_of_a_running_deferred_task_continues_its_job_and_the_task_succeeds(
    airflow: AirflowDeployment, platform_home: Path
) -> None:
    gate = platform_home / f"gate-{uuid.uuid4().hex[:8]}"
    run_id = _start(airflow, platform_home, lines=30, every=0.5, gate=gate)
    assert [j.state for j in _jobs(platform_home, run_id)] == [JobState.RUNNING]
    airflow.clear(DAG_ID, run_id, TASK_ID)
    # The job ends only after the first try's trigger was stopped by the clear: else it
    # could see the job end first and fire, and there would be no clear to handle.
    try:
        _until(
            lambda: any(
                "its next try continues job" in line
                for line in airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
            ),
            60,
            "the first try's trigger to leave the job to the next try",
        )
    except AssertionError as exc:
        log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
        raise AssertionError(f"{exc}; the first try's log:\n" + "\n".join(log[-30:])) from None
    finally:
        gate.touch()
    ti = airflow.wait_task(DAG_ID, run_id, TASK_ID, {"success", "failed"}, timeout=240)

    jobs = _jobs(platform_home, run_id)
    first_log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
    second_log = airflow.task_log(DAG_ID, run_id, TASK_ID, ti["try_number"])
    assert ti["state"] == "success", "\n".join(second_log[-40:])
    assert ti["try_number"] == 2
    assert [j.state for j in jobs] == [JobState.SUCCEEDED], jobs  # one job, not cancelled
    assert any("its next try continues job" in line for line in first_log), first_log[-30:]
    assert any(f"Reattached to job {jobs[0].ref.id}" in line for line in second_log)
    assert f"Job {jobs[0].ref.id} ended as SUCCEEDED" in "\n".join(second_log)


def test_mark_failed_on_a_deferred_task_cancels_its_job(
    airflow: AirflowDeployment, platform_home: Path
) -> None:
    run_id = _start(airflow, platform_home, lines=200, every=0.5)
    marked = time.monotonic()
    airflow.mark(DAG_ID, run_id, TASK_ID, "failed")
    try:
        job = _until(
            lambda: [j for j in _jobs(platform_home, run_id) if j.state is JobState.CANCELLED],
            30,
            "the job to be cancelled",
        )[0]
    except AssertionError as exc:
        log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
        raise AssertionError(f"{exc}; the task's log:\n" + "\n".join(log[-30:])) from None
    took = time.monotonic() - marked
    assert took < 20, took  # Airflow notices the kill in 1-7 s here; the cancel takes ~50 ms
    assert airflow.task(DAG_ID, run_id, TASK_ID)["state"] == "failed"
    assert len(_jobs(platform_home, run_id)) == 1
    log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
    assert any(f"Cancelled job {job.ref.id}" in line for line in log), log[-30:]
    # One story in the log: not "left as it is" and then "Cancelled" for the same kill.
    assert not any("left as it is" in line or "keeps running" in line for line in log), log


def test_a_triggerer_restart_leaves_the_job_running_and_its_log_whole(
    airflow: AirflowDeployment, platform_home: Path
) -> None:
    lines = 120
    run_id = _start(airflow, platform_home, lines=lines, every=0.4)
    # The job's lines reach the task's log while the task is deferred.
    seen = _until(
        lambda: _job_lines(airflow.task_log(DAG_ID, run_id, TASK_ID, 1)),
        60,
        "job lines in the deferred task's log",
    )
    assert airflow.task(DAG_ID, run_id, TASK_ID)["state"] == "deferred"
    assert seen == [f"line {i:05d}" for i in range(len(seen))]

    stopping = time.monotonic()
    airflow.stop_component("triggerer", signal.SIGTERM)
    assert time.monotonic() - stopping < 30  # else the job may have ended meanwhile
    assert [j.state for j in _jobs(platform_home, run_id)] == [JobState.RUNNING]
    airflow.start_component("triggerer")
    ti = airflow.wait_task(DAG_ID, run_id, TASK_ID, {"success", "failed"}, timeout=240)

    log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
    assert ti["state"] == "success", "\n".join(log[-40:])
    assert [j.state for j in _jobs(platform_home, run_id)] == [JobState.SUCCEEDED]
    job_id = _jobs(platform_home, run_id)[0].ref.id
    assert any(f"Stopped waiting for job {job_id}" in line for line in log)  # it did restart
    assert _job_lines(log) == [f"line {i:05d}" for i in range(lines)]
