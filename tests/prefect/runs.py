"""What the acceptance tests need around real Prefect runs in other processes: a served
runner, a process worker with a deployment, and a look at the jobs a flow run started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
from jobrelay import AsyncClient
from jobrelay.integration import active_in_scope
from jobrelay.models import JobStatus
from prefect_jobrelay import flow_run_prefix

from tests.prefect.conftest import ROOT, eventually


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment (Prefect's API URL, the homes) plus the repo on the path
    (the flow-run processes import ``tests.prefect.flows``) and quick polling."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "PYTHONWARNINGS": "ignore",
            **extra,
        }
    )
    return env


@contextlib.contextmanager
def started(argv: list[str], log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, its output in ``log``; at the end it and every
    process it started (its flow runs) are killed."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=subprocess_env(**env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


async def deployment_id(name: str, timeout: float = 90.0) -> UUID:
    """The id of deployment ``flow/deployment`` once it exists."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async def found() -> UUID | None:
        async with get_client() as client:
            try:
                return (await client.read_deployment_by_name(name)).id
            except ObjectNotFound:
                return None

    dep = await eventually(found, timeout=timeout, every=0.5)
    assert dep is not None, f"deployment {name} never appeared"
    return dep


async def start_flow_run(deployment: UUID, **parameters: Any) -> UUID:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(deployment, parameters=parameters)
    return run.id


async def flow_run_state(flow_run_id: UUID) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return (await client.read_flow_run(flow_run_id)).state


async def cancel_flow_run(flow_run_id: UUID) -> None:
    """What the UI's and ``prefect flow-run cancel``'s cancel does: propose Cancelling."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    async with get_client() as client:
        await client.set_flow_run_state(flow_run_id, Cancelling())


async def flow_run_jobs(platform: str, flow_run_id: UUID) -> list[JobStatus]:
    """Every job (any state) whose key says it belongs to the flow run, newest first."""
    prefix = flow_run_prefix(flow_run_id)
    async with AsyncClient(platform) as client:
        jobs = await client.list_jobs(limit=200)
    return [job for job in jobs if (job.ref.idempotency_key or "").startswith(prefix)]


async def running_jobs(platform: str, flow_run_id: UUID) -> list[JobStatus]:
    async with AsyncClient(platform) as client:
        jobs = await active_in_scope(client, flow_run_prefix(flow_run_id))
    return [job for job in jobs if job.state.value == "RUNNING"]


async def wait_running_job(platform: str, flow_run_id: UUID, timeout: float = 90.0) -> JobStatus:
    """The flow run's one running job, once it runs."""

    async def one() -> JobStatus | None:
        jobs = await running_jobs(platform, flow_run_id)
        assert len(jobs) <= 1, jobs
        return jobs[0] if jobs else None

    job = await eventually(one, timeout=timeout, every=0.2)
    state = await flow_run_state(flow_run_id)
    assert job is not None, f"no running job for flow run {flow_run_id} (flow run {state})"
    return job


async def wait_job_state(
    platform: str, job: JobStatus, states: set[str], timeout: float
) -> tuple[JobStatus, float]:
    """The job's status once its state is one of ``states`` (or the last one seen), and
    how long that took."""
    start = time.monotonic()
    async with AsyncClient(platform) as client:
        while True:
            status = await client.status(job.ref)
            if status.state.value in states or time.monotonic() - start > timeout:
                return status, time.monotonic() - start
            await asyncio.sleep(0.1)


async def wait_flow_run_final(flow_run_id: UUID, timeout: float) -> Any:
    async def final() -> Any:
        state = await flow_run_state(flow_run_id)
        return state if state is not None and state.is_final() else None

    return await eventually(final, timeout=timeout, every=0.5) or await flow_run_state(flow_run_id)


def flow_run_process(flow_run_id: UUID) -> psutil.Process:
    """The process running the flow run (the runner passes its id in the environment)."""
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("PREFECT__FLOW_RUN_ID") == str(flow_run_id):
                return proc
    raise AssertionError(f"no process runs flow run {flow_run_id}")


async def retry_flow_run(flow_run_id: UUID) -> None:
    """Rerun a crashed flow run of a deployment, as ``prefect flow-run retry`` does
    (Prefect 3.7.7's CLI forces the run back to ``Scheduled``)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    async with get_client() as client:
        await client.set_flow_run_state(flow_run_id, Scheduled(message="Rerun"), force=True)


class ActiveJobs:
    """Samples how many of a flow run's jobs are active, all along a test."""

    def __init__(self, platform: str, flow_run_id: UUID) -> None:
        self.platform = platform
        self.flow_run_id = flow_run_id
        self.most = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        async with AsyncClient(self.platform) as client:
            while True:
                active = await active_in_scope(client, flow_run_prefix(self.flow_run_id))
                self.most = max(self.most, len(active))
                self.samples += 1
                await asyncio.sleep(0.1)

    async def __aenter__(self) -> ActiveJobs:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
