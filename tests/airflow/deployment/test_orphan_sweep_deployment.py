"""The reaper in a real Airflow deployment (api-server, scheduler, dag-processor and
triggerer as separate processes), driven through the REST API as a user drives it.

Each test leaves jobs that nothing in the task can cancel any more (the task was marked
failed before the triggerer ran its trigger, or while no triggerer ran), then runs the
reaper DAG once (``tests/airflow/deployment/dags/jobrelay_reaper.py``: grace 0) and
counts the jobs still running. A cleared task keeps its job through a sweep.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jobrelay import JobState
from jobrelay.integration import Owner

from . import test_deployment as base
from .airflow_deployment import AirflowDeployment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID, TASK_ID = base.DAG_ID, base.TASK_ID
REAPER = "jobrelay_reaper"
LONG = {"lines": 400, "every": 0.5}  # 200 s: no job ends by itself during a test


def _running(home: Path, run_ids: list[str]) -> list[str]:
    """The run ids whose job is still queued or running on the platform."""
    return [r for r in run_ids if any(j.state.is_active for j in base._jobs(home, r))]


def _until_deferred(airflow: AirflowDeployment, run_id: str, timeout: float = 120) -> float:
    """The monotonic time the task was first seen ``deferred`` (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = airflow.task(DAG_ID, run_id, TASK_ID)["state"]
        if state == "deferred":
            return time.monotonic()
        assert state in (None, "scheduled", "queued", "running"), state
        time.sleep(0.05)
    raise AssertionError(f"{run_id} was not deferred in {timeout} s:\n{airflow.diagnostics()}")


def _run_state(airflow: AirflowDeployment, run_id: str) -> str:
    return str(airflow.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"])


def _sweep(airflow: AirflowDeployment) -> dict[str, Any]:
    """Run the reaper DAG once; its summary (XCom), with ``took_s`` from trigger to end."""
    airflow.wait_dag(REAPER)
    run_id = f"sweep__{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    airflow.trigger(REAPER, run_id, {})
    ti = airflow.wait_task(REAPER, run_id, "sweep", {"success", "failed"}, timeout=240)
    took = time.monotonic() - started
    log = airflow.task_log(REAPER, run_id, "sweep", ti["try_number"])
    assert ti["state"] == "success", "\n".join(log[-40:])
    summary: dict[str, Any] = airflow.xcom(REAPER, run_id, "sweep")
    summary["took_s"] = round(took, 1)
    summary["log"] = log
    return summary


@pytest.mark.parametrize("delay", [0.2, 0.5, 1.0])
def test_mark_failed_soon_after_deferral_leaves_no_job_after_one_sweep(
    airflow: AirflowDeployment, platform_home: Path, delay: float
) -> None:
    runs: list[str] = []
    for _ in range(2):
        run_id = f"manual__{uuid.uuid4().hex[:10]}"
        airflow.trigger(DAG_ID, run_id, LONG)
        deferred = _until_deferred(airflow, run_id)
        time.sleep(max(0.0, deferred + delay - time.monotonic()))
        airflow.mark(DAG_ID, run_id, TASK_ID, "failed")
        runs.append(run_id)
    for run_id in runs:
        assert airflow.task(DAG_ID, run_id, TASK_ID)["state"] == "failed"
    time.sleep(8)  # a trigger that did run cancels its job within a few seconds
    left_before = _running(platform_home, runs)

    summary = _sweep(airflow)

    print(
        f"mark failed {delay} s after deferral: {len(left_before)}/{len(runs)} left; "
        f"after one sweep {len(_running(platform_home, runs))}; sweep took {summary['took_s']} s"
    )
    assert _running(platform_home, runs) == [], summary
    cancelled = {c["job"] for c in summary["cancelled"]}
    for run_id in left_before:
        (job,) = base._jobs(platform_home, run_id)
        assert job.state is JobState.CANCELLED
        assert job.ref.id in cancelled
    assert summary["lookup_error"] is None
    assert summary["unknown_owners"] == 0


def test_triggerer_sigkill_then_mark_failed_leaves_no_job_after_one_sweep(
    airflow: AirflowDeployment, platform_home: Path
) -> None:
    runs = [base._start(airflow, platform_home, lines=400, every=0.5) for _ in range(2)]
    airflow.stop_component("triggerer", signal.SIGKILL)
    for run_id in runs:
        airflow.mark(DAG_ID, run_id, TASK_ID, "failed")
    airflow.start_component("triggerer")
    time.sleep(15)  # the new triggerer never runs a failed task's trigger: nothing cancels
    assert _running(platform_home, runs) == runs  # what the sweep is for

    summary = _sweep(airflow)

    print(
        f"triggerer SIGKILL + mark failed: 2/2 left; after one sweep "
        f"{len(_running(platform_home, runs))}; sweep took {summary['took_s']} s"
    )
    assert _running(platform_home, runs) == [], summary
    assert {Owner.parse(c["owner"]).unit[1] for c in summary["cancelled"]} >= set(runs)
    assert {c["owner_state"] for c in summary["cancelled"]} == {"failed"}
    assert any("Cancelling job" in line for line in summary["log"]), summary["log"][-20:]


def test_a_cleared_task_keeps_its_job_through_a_sweep_and_reattaches(
    airflow: AirflowDeployment, platform_home: Path
) -> None:
    # The job ends only once the gate exists, after the sweep and the new try's reattach:
    # on a loaded machine these took longer than a job of fixed length (it had ended
    # before the sweep ran). Each step waits for a state the API shows, never a sleep.
    gate = platform_home / f"gate-{uuid.uuid4().hex[:8]}"
    try:
        run_id = base._start(airflow, platform_home, lines=10, every=0.5, gate=gate)
        (job,) = base._jobs(platform_home, run_id)
        # No triggerer: marking failed cannot cancel the job, so the sweep is all that could.
        airflow.stop_component("triggerer", signal.SIGTERM)
        airflow.mark(DAG_ID, run_id, TASK_ID, "failed")
        assert airflow.task(DAG_ID, run_id, TASK_ID)["state"] == "failed"
        # The scheduler ends the run after the mark; a clear before that could be undone by
        # it (run failed, task cleared: never scheduled again), so clear once it is failed.
        base._until(lambda: _run_state(airflow, run_id) == "failed", 120, "the run to fail")
        airflow.clear(DAG_ID, run_id, TASK_ID)
        assert [j.state for j in base._jobs(platform_home, run_id)] == [JobState.RUNNING]

        summary = _sweep(airflow)

        assert [j.state for j in base._jobs(platform_home, run_id)] == [JobState.RUNNING]
        assert job.ref.id not in {c["job"] for c in summary["cancelled"]}, summary
        # The new try runs without a triggerer: it reattaches, then defers.
        try:
            airflow.wait_task(DAG_ID, run_id, TASK_ID, {"deferred"}, timeout=240, try_number=2)
        except AssertionError as exc:
            ti = airflow.task(DAG_ID, run_id, TASK_ID)
            raise AssertionError(
                f"task {ti['state']} try {ti['try_number']}, run {_run_state(airflow, run_id)}"
                f": {str(exc)[:3000]}"
            ) from None
        second = airflow.task_log(DAG_ID, run_id, TASK_ID, 2)
        assert any(f"Reattached to job {job.ref.id}" in line for line in second), second[-30:]
    finally:
        gate.touch()  # the job ends (also on a failure, so that no job outlives the test)
        if "triggerer" not in airflow.procs:  # the module's later tests need one
            airflow.start_component("triggerer")
    ti = airflow.wait_task(DAG_ID, run_id, TASK_ID, {"success", "failed"}, timeout=240)

    log = airflow.task_log(DAG_ID, run_id, TASK_ID, ti["try_number"])
    assert ti["state"] == "success", "\n".join(log[-40:])
    assert ti["try_number"] == 2
    assert [j.state for j in base._jobs(platform_home, run_id)] == [JobState.SUCCEEDED]
    assert f"Job {job.ref.id} ended as SUCCEEDED" in "\n".join(log), log[-30:]
