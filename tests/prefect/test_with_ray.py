"""Cancelling a served flow run whose ``.submit()``-ed task waits on a job on a real Ray
head (loopback, the session's head from tests/platforms/ray_cluster.py): the Ray job is
stopped (CANCELLED) and its process is gone.

(Named to run last: the head keeps running, and using CPU, until the session ends.)"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from tests.platforms.ray_cluster import shared_head
from tests.prefect import runs
from tests.prefect.conftest import FLOWS, eventually
from tests.prefect.flows import TICKS

pytestmark = pytest.mark.slow


def _ticking_processes() -> list[psutil.Process]:
    """The job's Python processes (the Ray job runs on this machine's head)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if TICKS in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


async def test_cancelling_a_served_flow_run_stops_its_ray_job(served: Path) -> None:
    platform = shared_head().platform_url
    deployment = await runs.deployment_id(f"{FLOWS['async']}/served")
    flow_run = await runs.start_flow_run(deployment, credentials=platform, mode="submit")
    job = await runs.wait_running_job(platform, flow_run, timeout=120)
    processes = await eventually(_job_processes, timeout=20)
    assert len(processes) == 1, processes

    await runs.cancel_flow_run(flow_run)
    cancelled = time.monotonic()

    status, took = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=10)
    print(f"ray async/submit: job {status.state.value} ({status.platform_state}) {took:.2f} s")
    assert status.state.value == "CANCELLED", (status, served.read_text()[-4000:])
    assert status.platform_state == "STOPPED"
    assert await eventually(_no_job_process, timeout=10)
    state = await runs.wait_flow_run_final(flow_run, timeout=45)
    print(f"ray async/submit: flow run {state.name} {time.monotonic() - cancelled:.2f} s")
    assert state.name == "Cancelled", state
    assert len(await runs.flow_run_jobs(platform, flow_run)) == 1


async def _job_processes() -> list[psutil.Process]:
    return _ticking_processes()


async def _no_job_process() -> bool:
    return not _ticking_processes()
