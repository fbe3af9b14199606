"""A killed worker's retry reattaches; killing a task (worker or deferred) cancels its job."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk.bases.operator import ExecutorSafeguard
from airflow.sdk.exceptions import (
    AirflowException,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
)
from airflow_jobrelay._spec import idempotency_key
from airflow_jobrelay.exceptions import JobRelayJobFailed, JobRelayJobTimeout
from airflow_jobrelay.operators import SubmitJobOperator
from airflow_jobrelay.sensors import JobSensor
from airflow_jobrelay.triggers import JobTrigger
from jobrelay import Client, JobSpec, JobState, JobStatus

from .conftest import PLATFORM_HOME, ROOT
from .operator_worker import DAG_ID, TASK_ID, WorkerTI, run_try
from .support import jobs_for

pytestmark = pytest.mark.slow


def _start_worker(run_id: str, entrypoint: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.airflow.operator_worker", run_id, entrypoint, *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_job(
    run_id: str,
    state: JobState,
    timeout: float = 60,
    worker: subprocess.Popen[str] | None = None,
    *,
    at_least: bool = False,
) -> JobStatus:
    """The task's one job once it is in ``state`` (or past it, with ``at_least``)."""
    order = [JobState.QUEUED, JobState.STARTING, JobState.RUNNING]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited early: {worker.communicate()[1][-3000:]}")
        jobs = jobs_for(DAG_ID, TASK_ID, run_id)
        if jobs and jobs[0].state is state:
            return jobs[0]
        if jobs and at_least and jobs[0].state in order[order.index(state) :]:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError(f"no job of run {run_id} became {state} within {timeout}s: {jobs}")


def _exit_of(worker: subprocess.Popen[str], timeout: float) -> str:
    """The worker's stderr once it exited; a hung worker fails with its threads' stacks."""
    try:
        return worker.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGUSR1)  # operator_worker dumps every thread's stack
        time.sleep(1)
        worker.kill()
        err = worker.communicate(timeout=30)[1]
        raise AssertionError(f"the worker did not exit within {timeout}s:\n{err[-6000:]}") from None


@pytest.fixture
def run_id() -> Iterator[str]:
    """A fresh run id; its jobs are cancelled at teardown so none outlives the test."""
    value = f"manual__{uuid.uuid4().hex[:12]}"
    yield value
    with Client(f"local://{PLATFORM_HOME}") as client:
        for job in jobs_for(DAG_ID, TASK_ID, value):
            client.cancel(job.ref)


def test_retry_after_the_worker_was_killed_reattaches_to_the_running_job(
    run_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    entrypoint = f"echo first-line; while [ ! -f {gate} ]; do sleep 0.05; done; echo last-line"
    first = _start_worker(run_id, entrypoint)
    try:
        _wait_for_job(run_id, JobState.RUNNING, worker=first)
    finally:
        first.send_signal(signal.SIGKILL)  # the worker dies; no on_kill, no cleanup
        first.communicate(timeout=30)

    gate.touch()
    result, ti = run_try(run_id, entrypoint, poll_interval=0.05)

    (job,) = jobs_for(DAG_ID, TASK_ID, run_id)
    assert (result["job_id"], result["state"], result["reattached"]) == (
        job.ref.id,
        "SUCCEEDED",
        True,
    )
    assert ti.pushed["jobrelay_job"]["id"] == job.ref.id


def test_retry_after_a_failed_job_submits_a_new_one(run_id: str) -> None:
    with pytest.raises(JobRelayJobFailed) as failed:
        run_try(run_id, "echo boom >&2; exit 3", poll_interval=0.05)
    assert failed.value.state == "FAILED"
    assert failed.value.status is not None
    assert failed.value.status["exit_code"] == 3

    result, _ = run_try(run_id, "echo fixed", poll_interval=0.05)

    jobs = jobs_for(DAG_ID, TASK_ID, run_id)
    assert sorted(j.state.value for j in jobs) == ["FAILED", "SUCCEEDED"]
    assert result["reattached"] is False
    assert result["ref"]["idempotency_key"].endswith("#2")


def test_a_run_timeout_cancels_the_job_and_fails_with_its_phase(run_id: str) -> None:
    with pytest.raises(JobRelayJobTimeout) as timed_out:
        run_try(run_id, "echo started; sleep 30", run_timeout=0.5, poll_interval=0.05)

    assert timed_out.value.phase == "run"
    assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == timed_out.value.status["ref"]["id"]  # type: ignore[index]


@pytest.mark.parametrize("when", [JobState.QUEUED, JobState.RUNNING], ids=["submitting", "running"])
def test_killing_the_worker_task_cancels_its_job(run_id: str, when: JobState) -> None:
    worker = _start_worker(run_id, "echo started; sleep 60")
    # QUEUED: the kill may land while the worker is still inside its submit call.
    job = _wait_for_job(run_id, when, worker=worker, at_least=True)

    worker.send_signal(signal.SIGTERM)  # what the supervisor sends; on_kill runs
    err = _exit_of(worker, timeout=60)

    assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == job.ref.id
    assert worker.returncode != 0
    assert "cancelled" in err or "was killed while job" in err


def test_a_kill_that_interrupts_a_thread_start_still_cancels_the_job(run_id: str) -> None:
    # Airflow runs on_kill in its SIGTERM handler, wherever the worker's main thread was:
    # here, inside a thread start, holding locks any new thread or executor needs.
    worker = _start_worker(run_id, "echo started; sleep 60", "mid-thread-start")
    job = _wait_for_job(run_id, JobState.RUNNING, worker=worker)

    worker.send_signal(signal.SIGTERM)
    err = _exit_of(worker, timeout=30)

    assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == job.ref.id
    assert f"the task was killed; job {job.ref.id} was cancelled" in err


@pytest.mark.parametrize("cancel_on_kill", [True, False], ids=["owns-the-job", "default"])
def test_killing_a_sensor_stops_it_and_cancels_the_job_only_when_asked(
    run_id: str, cancel_on_kill: bool
) -> None:
    with Client(f"local://{PLATFORM_HOME}") as client:
        key = idempotency_key(DAG_ID, TASK_ID, run_id, -1)
        ref = client.submit(JobSpec(entrypoint="sleep 60", idempotency_key=key))
    job = _wait_for_job(run_id, JobState.RUNNING)
    sensor = JobSensor(
        task_id="watch", job=ref.model_dump(mode="json"), cancel_on_kill=cancel_on_kill
    )
    assert sensor.poke({}).is_done is False  # type: ignore[arg-type]

    sensor.on_kill()  # between pokes, as Airflow's SIGTERM handler finds it

    if cancel_on_kill:
        assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == job.ref.id
    else:
        time.sleep(0.3)
        assert _wait_for_job(run_id, JobState.RUNNING, 1).ref.id == job.ref.id
    with pytest.raises(AirflowException, match="the task was killed"):
        sensor.poke({})  # type: ignore[arg-type]


def _defer(run_id: str) -> tuple[WorkerTI, JobStatus, TaskDeferred]:
    """One deferrable try with a 30 s execution_timeout, deferred on a running job."""
    ExecutorSafeguard.test_mode = True
    operator = SubmitJobOperator(
        task_id=TASK_ID,
        entrypoint="echo started; sleep 60",
        deferrable=True,
        execution_timeout=timedelta(seconds=30),
        poll_interval=0.05,
    )
    ti = WorkerTI(run_id=run_id)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    return ti, _wait_for_job(run_id, JobState.RUNNING), deferred.value


def test_a_kill_between_submit_and_defer_cancels_instead_of_deferring(
    run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ExecutorSafeguard.test_mode = True
    operator = SubmitJobOperator(task_id=TASK_ID, entrypoint="sleep 60", deferrable=True)
    submit = operator.submit_job

    def submit_then_killed(context: object) -> dict[str, object]:
        ref = submit(context)  # type: ignore[arg-type]
        operator.on_kill()  # Airflow's SIGTERM handler, right after the submit returned
        return ref

    monkeypatch.setattr(operator, "submit_job", submit_then_killed)
    with pytest.raises(AirflowException, match="was cancelled"):
        operator.execute({"ti": WorkerTI(run_id=run_id)})  # type: ignore[arg-type]

    (job,) = jobs_for(DAG_ID, TASK_ID, run_id)
    assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == job.ref.id


def _resume(ti: WorkerTI, error: str) -> None:
    """What the worker does when the scheduler fails a deferral: a fresh operator resumes."""
    operator = SubmitJobOperator(task_id=TASK_ID, entrypoint="echo started; sleep 60")
    operator.resume_execution("__fail__", {"error": error}, {"ti": ti})  # type: ignore[arg-type]


def test_the_deferral_times_out_with_execution_timeout_and_cancels_the_job(run_id: str) -> None:
    ti, job, deferred = _defer(run_id)
    assert deferred.timeout == timedelta(seconds=30)  # Airflow enforces it while deferred

    with pytest.raises(TaskDeferralTimeout):
        _resume(ti, "Trigger timeout")  # the scheduler's check_trigger_timeouts fired

    assert _wait_for_job(run_id, JobState.CANCELLED).ref.id == job.ref.id


def test_a_failed_trigger_leaves_the_job_for_the_retry_to_reattach(run_id: str) -> None:
    ti, job, _ = _defer(run_id)

    with pytest.raises(TaskDeferralError):
        _resume(ti, "Trigger failure")  # the triggerer crashed running it

    (still,) = jobs_for(DAG_ID, TASK_ID, run_id)
    assert (still.ref.id, still.state) == (job.ref.id, JobState.RUNNING)


async def _until(run_id: str, state: JobState, timeout: float = 60) -> JobStatus:
    return await asyncio.to_thread(_wait_for_job, run_id, state, timeout)


async def test_trigger_on_kill_cancels_the_job_but_a_triggerer_restart_does_not(
    run_id: str,
) -> None:
    worker = _start_worker(run_id, "sleep 60")
    try:
        job = await _until(run_id, JobState.RUNNING)
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    ref = job.ref.model_dump(mode="json")

    # A triggerer restart cancels the trigger's task: the job must keep running.
    restarted = asyncio.create_task(anext(JobTrigger(job=ref, poll_interval=0.05).run()))
    await asyncio.sleep(0.5)
    restarted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await restarted
    await asyncio.sleep(0.5)
    assert (await _until(run_id, JobState.RUNNING, 1)).ref.id == job.ref.id

    # A user's kill: Airflow cancels the task, then calls on_kill.
    trigger = JobTrigger(job=ref, poll_interval=0.05)
    killed = asyncio.create_task(anext(trigger.run()))
    await asyncio.sleep(0.5)
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    await trigger.on_kill()
    assert (await _until(run_id, JobState.CANCELLED)).ref.id == job.ref.id


def test_trigger_on_kill_leaves_the_job_alone_without_cancel_on_kill(run_id: str) -> None:
    worker = _start_worker(run_id, "sleep 60")
    try:
        job = _wait_for_job(run_id, JobState.RUNNING)
    finally:
        worker.kill()
        worker.communicate(timeout=30)

    trigger = JobTrigger(job=job.ref.model_dump(mode="json"), cancel_on_kill=False)
    asyncio.run(trigger.on_kill())

    time.sleep(0.3)
    assert _wait_for_job(run_id, JobState.RUNNING, 1).ref.id == job.ref.id
