"""Hosted platforms for in-process Prefect flows: the Anyscale, W&B and Fused emulators on
loopback (their cancel endpoints slowed to 0.5 s, so a cancel is in flight for a while) and
the session's Ray head, each with a saved credentials block a flow names, and a count of
the cancel requests the platform received."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from jobrelay.models import JobSpec, JobStatus
from prefect_jobrelay import JobRelayCredentials, flow_run_prefix
from pydantic import SecretStr

SLOW_CANCEL_S = 0.5
HOSTED = ["anyscale", "wandb", "fused", "ray"]


@dataclass
class Hosted:
    """A platform a flow runs jobs on: the saved block's name, a long job for it, how many
    cancel requests it has received (None: the platform keeps no request log), and how
    long a task may take to get its job running there (Ray's submit takes seconds)."""

    name: str
    credentials: str
    block: JobRelayCredentials
    spec: dict[str, Any]
    cancels_seen: Callable[[], int] | None
    limit_s: float

    async def flow_run_jobs(self, flow_run_id: UUID | None) -> list[JobStatus]:
        """The flow run's jobs: all of an emulator's (one per test), the keyed ones on Ray."""
        assert flow_run_id is not None
        prefix = flow_run_prefix(flow_run_id)
        async with self.block.get_client() as client:
            jobs = await client.list_jobs(limit=200)
        if self.cancels_seen is not None:
            return list(jobs)
        return [job for job in jobs if (job.ref.idempotency_key or "").startswith(prefix)]

    async def state_once(self, job: JobStatus, states: set[str], timeout: float) -> JobStatus:
        """The job's status once its state is one of ``states`` (or the last one seen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.block.get_client() as client:
            while True:
                status = await client.status(job.ref)
                if status.state.value in states or loop.time() > deadline:
                    return status
                await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def hosted(name: str, tmp_path: Path) -> AsyncIterator[Hosted]:
    """The platform ``name`` (one of :data:`HOSTED`) for one test, stopped after it."""
    opener = {"anyscale": _anyscale, "wandb": _wandb, "fused": _fused, "ray": _ray}[name]
    async with opener(tmp_path) as (block, spec, cancels_seen):
        await block.save(f"jr-timeout-{name}", overwrite=True)
        limit = 20.0 if name == "ray" else 3.0
        yield Hosted(name, f"jr-timeout-{name}", block, spec, cancels_seen, limit)


Opened = tuple[JobRelayCredentials, dict[str, Any], Callable[[], int] | None]
LONG = "sleep 60"


@contextlib.asynccontextmanager
async def _anyscale(tmp_path: Path) -> AsyncIterator[Opened]:
    from jobrelay_emulators.anyscale import AnyscaleEmulator

    emulator = AnyscaleEmulator(workdir=tmp_path / "anyscale-jobs").start()
    emulator.add_fault("terminate", "slow", delay_s=SLOW_CANCEL_S, times=None)
    block = JobRelayCredentials(
        platform=f"anyscale://?host={emulator.url}", credential=SecretStr(emulator.token)
    )
    try:
        yield block, {"entrypoint": LONG}, lambda: len(emulator.calls("terminate"))
    finally:
        await asyncio.to_thread(emulator.stop)


@contextlib.asynccontextmanager
async def _wandb(tmp_path: Path) -> AsyncIterator[Opened]:
    from jobrelay_emulators.local_home import stop_local_home
    from jobrelay_emulators.wandb import WandbEmulator

    emulator = WandbEmulator(agent_home=tmp_path / "wandb-agent")
    await asyncio.to_thread(emulator.start)
    emulator.create_queue("default")
    for operation in ("StopRun", "DeleteFromRunQueue"):
        emulator.faults.add(operation, "slow", delay_s=SLOW_CANCEL_S, times=None)
    platform = (
        f"wandb://{emulator.entity}/prefect?queue=default&host={emulator.url}&image=python:3.11"
    )
    block = JobRelayCredentials(platform=platform, credential=SecretStr(emulator.api_key))

    def cancels_seen() -> int:
        cancels = {"StopRun", "DeleteFromRunQueue"}
        return sum(1 for request in list(emulator.requests) if request.operation in cancels)

    try:
        yield block, {"entrypoint": LONG}, cancels_seen
    finally:
        await asyncio.to_thread(emulator.stop)
        stop_local_home(tmp_path / "wandb-agent")


@contextlib.asynccontextmanager
async def _fused(tmp_path: Path) -> AsyncIterator[Opened]:
    from jobrelay_emulators.fused import TOKEN_TYPE, FusedEmulator

    from tests.platforms.conftest import SHELL_UDF

    emulator = FusedEmulator(workdir=tmp_path / "fused-jobs").start()
    emulator.add_fault("cancel", "slow", delay_s=SLOW_CANCEL_S, times=None)
    block = JobRelayCredentials(
        platform=f"fused://?base_url={emulator.base_url}",
        credential=SecretStr(emulator.token),
        options={"token_type": TOKEN_TYPE},
    )
    spec = {"entrypoint": "udf", "config": {"code": SHELL_UDF, "parameters": {"command": LONG}}}
    try:
        yield block, spec, lambda: len(emulator.calls("cancel"))
    finally:
        await asyncio.to_thread(emulator.stop)


@contextlib.asynccontextmanager
async def _ray(tmp_path: Path) -> AsyncIterator[Opened]:
    from tests.platforms.ray_cluster import shared_head

    head = await asyncio.to_thread(shared_head)
    block = JobRelayCredentials(platform=head.platform_url)
    # A fresh head's first job takes long to start (its job supervisor, on 2 busy cores,
    # well over the task's limit): start one first, so the task's own submit is answered.
    async with block.get_client() as client:
        await client.run(JobSpec(entrypoint="true"))
    yield block, {"entrypoint": LONG}, None
