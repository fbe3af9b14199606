"""Which errors after the submit cancel the job (issue 24's rule for the adapters): an
ordinary error in a worker's wait leaves the job for the task's retry to reattach, and
cancels it on the last try; a job's own end never cancels it (``cancel_on_timeout=False``
keeps it running); a sensor's poke that could not read the job cancels nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.bases.operator import ExecutorSafeguard
from airflow_jobrelay._spec import idempotency_key
from airflow_jobrelay.exceptions import JobRelayJobTimeout
from airflow_jobrelay.operators import SubmitJobOperator, will_retry
from airflow_jobrelay.sensors import JobSensor
from jobrelay import AuthError, Client, JobSpec, JobState, JobUpdate
from jobrelay_emulators.anyscale import AnyscaleEmulator

from .operator_worker import DAG_ID, TASK_ID, WorkerTI
from .support import jobs_for

pytestmark = pytest.mark.slow


@dataclass
class RetryingTI(WorkerTI):
    """A try of a task that Airflow retries while ``try_number <= max_tries``."""

    max_tries: int = 0


class FailingLogOperator(SubmitJobOperator):
    """A task whose wait fails with an ordinary error once the job runs (as a broken log
    handler would), while the job runs on."""

    def _render_update(self, update: JobUpdate) -> None:
        if update.status.state is JobState.RUNNING:
            raise RuntimeError("the log handler broke")


@pytest.fixture
def run_id() -> str:
    return f"wait_errors__{uuid.uuid4().hex[:10]}"


def _job_state(run_id: str, expected: JobState, timeout: float = 15) -> JobState:
    """The task's one job's state: ``expected`` as soon as it is (a local cancel lands a
    moment after it was taken), else the last one seen within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        (job,) = jobs_for(DAG_ID, TASK_ID, run_id)
        if job.state is expected or time.monotonic() > deadline:
            return job.state
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("try_number", "max_tries", "left_running"),
    [(1, 1, True), (2, 2, True), (2, 1, False), (1, 0, False)],
    ids=["retry-left", "cleared-retry-left", "last-try", "no-retries"],
)
def test_an_error_in_the_wait_leaves_the_job_only_for_a_retry(
    run_id: str, try_number: int, max_tries: int, left_running: bool
) -> None:
    ExecutorSafeguard.test_mode = True  # execute() is called directly, as in a unit test
    entrypoint = "sleep 60"
    failing = FailingLogOperator(task_id=TASK_ID, entrypoint=entrypoint, poll_interval=0.1)
    ti = RetryingTI(run_id=run_id, try_number=try_number, max_tries=max_tries)

    with pytest.raises(RuntimeError, match="the log handler broke"):
        failing.execute({"ti": ti})  # type: ignore[arg-type]

    if not left_running:
        assert _job_state(run_id, JobState.CANCELLED) is JobState.CANCELLED
        return
    (job,) = jobs_for(DAG_ID, TASK_ID, run_id)
    assert job.state is JobState.RUNNING
    # The retry reattaches to that job by its key (its submit step; the wait is as above).
    retry = SubmitJobOperator(task_id=TASK_ID, entrypoint=entrypoint, poll_interval=0.1)
    next_try = RetryingTI(run_id=run_id, try_number=try_number + 1, max_tries=max_tries)
    ref = retry.submit_job({"ti": next_try})  # type: ignore[arg-type]
    assert (ref["id"], ref["reattached"]) == (job.ref.id, True)
    with Client(job.ref.platform) as client:
        client.cancel(job.ref)  # the test's own cleanup


def test_a_limit_with_cancel_on_timeout_off_leaves_the_job_running(run_id: str) -> None:
    ExecutorSafeguard.test_mode = True
    operator = SubmitJobOperator(
        task_id=TASK_ID,
        entrypoint="sleep 30",
        run_timeout=1,
        cancel_on_timeout=False,
        poll_interval=0.1,
    )
    with pytest.raises(JobRelayJobTimeout):
        operator.execute({"ti": RetryingTI(run_id=run_id)})  # type: ignore[arg-type]

    time.sleep(1)  # a cancel taken by the local platform lands within this
    assert _job_state(run_id, JobState.RUNNING) is JobState.RUNNING
    with Client(jobs_for(DAG_ID, TASK_ID, run_id)[0].ref.platform) as client:
        client.cancel(jobs_for(DAG_ID, TASK_ID, run_id)[0].ref)  # the test's own cleanup


@pytest.mark.parametrize(
    ("ti", "retries", "expected"),
    [
        (RetryingTI("r", try_number=1, max_tries=1), 0, True),
        (RetryingTI("r", try_number=2, max_tries=1), 3, False),
        (RetryingTI("r", try_number=1, max_tries=0), 3, False),  # max_tries is what counts
        (WorkerTI("r", try_number=1), 1, True),  # no max_tries: the task's retries
        (WorkerTI("r", try_number=2), 1, False),
    ],
)
def test_will_retry_follows_airflows_rule(ti: Any, retries: int, expected: bool) -> None:
    assert will_retry(ti, retries) is expected


# -- a sensor's poke that cannot read the job -------------------------------------------


@pytest.fixture
def anyscale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnyscaleEmulator]:
    monkeypatch.delenv("ANYSCALE_CLI_TOKEN", raising=False)
    emulator = AnyscaleEmulator(workdir=tmp_path / "jobs").start()
    connection = {
        "conn_type": "jobrelay",
        "schema": "anyscale",
        "host": f"?host={emulator.url}",
        "password": emulator.token,
    }
    monkeypatch.setenv("AIRFLOW_CONN_JOBRELAY_ANYSCALE", json.dumps(connection))
    try:
        yield emulator
    finally:
        emulator.stop()


def test_a_poke_that_cannot_read_the_job_cancels_nothing(
    anyscale: AnyscaleEmulator, run_id: str
) -> None:
    url = f"anyscale://?host={anyscale.url}"
    with Client(url, credential=anyscale.token) as client:
        key = idempotency_key(DAG_ID, TASK_ID, run_id, -1)
        ref = client.submit(JobSpec(entrypoint="sleep 60", idempotency_key=key))
    # The sensor owns the job (a kill would cancel it), but a failed read is no kill.
    sensor = JobSensor(
        task_id="watch",
        job=ref.model_dump(mode="json"),
        jobrelay_conn_id="jobrelay_anyscale",
        cancel_on_kill=True,
    )
    anyscale.add_fault("get_job", status=403, message="token expired")

    with pytest.raises(AuthError):
        sensor.poke({})  # type: ignore[arg-type]

    assert anyscale.calls("terminate") == []
    assert sensor.poke({}).is_done is False  # type: ignore[arg-type]  # the next poke reads it
    with Client(url, credential=anyscale.token) as client:
        assert client.status(ref).state.is_active
        client.cancel(ref)
